import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../core/errors.js";
import { readJsonIfExists } from "../core/fs.js";
import {
  FULL_SNAPSHOT_FILES,
  RESTORE_FILE,
  type RestorePlan,
  type SavedHostState,
} from "../core/workspace/full-snapshot-files.js";
import { stateFileUsable } from "../runtime/qemu/saved-state.js";

export interface PendingRestore {
  statePath: string;
  identity: { hostname: string; machineId: string } | null;
  host: SavedHostState;
  /** The restore is done: forget the plan so a later supervisor boots as usual. */
  done(): Promise<void>;
}

/**
 * The full snapshot a reset or fork asked this supervisor to restore (vm/restore.json), checked:
 * its state file has the size written and QEMU's header, its host records parse.
 */
export async function readRestorePlan(vmDir: string): Promise<PendingRestore | undefined> {
  const file = path.join(vmDir, RESTORE_FILE);
  const plan = (await readJsonIfExists(file)) as RestorePlan | undefined;
  if (plan === undefined) return undefined;
  const statePath = path.join(plan.snapshot_dir, FULL_SNAPSHOT_FILES.memory);
  const problem = await stateFileUsable(statePath, plan.memory_bytes);
  if (problem) {
    throw new PyroError("VM_BOOT_FAILED", `cannot restore the full snapshot: ${problem}`, {
      hint: "Delete that snapshot and reset to another one (or to the baseline).",
    });
  }
  const host = JSON.parse(
    await fs.readFile(path.join(plan.snapshot_dir, FULL_SNAPSHOT_FILES.host), "utf8"),
  ) as SavedHostState;
  if (host.schema_version !== 1) {
    throw new PyroError(
      "VM_BOOT_FAILED",
      "the full snapshot's host records are of another version",
    );
  }
  return {
    statePath,
    identity: plan.identity
      ? { hostname: plan.identity.hostname, machineId: plan.identity.machine_id }
      : null,
    host,
    done: () => fs.rm(file, { force: true }),
  };
}
