import fs from "node:fs/promises";
import { journalOutputDir } from "./journal.js";
import { applyInternalSnapshot } from "../../runtime/qemu/img.js";
import type { PyroPaths } from "../paths.js";
import { workspaceFiles } from "./layout.js";
import { lifecycleLock, startSupervisor, statusWorkspace } from "./lifecycle.js";
import { stopWorkspaceProcesses, supervisorPid, writeStopReason } from "./processes.js";
import { faultPoint } from "../fault.js";
import {
  readRecord,
  updateRecord,
  withWorkspaceLock,
  writeRecord,
  type WorkspaceRecord,
} from "./record.js";
import { materializeSecrets } from "./secrets.js";
import { BASELINE_SNAPSHOT, internalName, resolveSnapshot } from "./snapshots.js";
import { prepareFullRestore } from "./full-snapshots.js";

/**
 * Rebuild the whole sandbox instead of repairing it: stop the VM, restore /workspace to a
 * snapshot (the baseline by default), throw the root overlay away, clear the command journal,
 * shells and services, and boot a fresh VM. Identity, environment, resources, TTL, the baseline
 * and every named snapshot are kept. Every step can be repeated, so a reset interrupted at any
 * point is finished by running reset again.
 *
 * The lock is held from the stop to the new VM being up, so two resets (or a reset and a delete)
 * run one after the other and never boot two VMs. A reset that finds the lock kept by anything
 * else stops the VM first so that holder fails fast: reset always wins.
 */
export async function resetWorkspace(
  paths: PyroPaths,
  id: string,
  options: { snapshot?: string } = {},
): Promise<WorkspaceRecord> {
  const snapshotName = options.snapshot ?? BASELINE_SNAPSHOT;
  await readRecord(paths, id);
  const files = workspaceFiles(paths, id);
  await withWorkspaceLock(
    paths,
    id,
    async (holder) => {
      // Refuse an unknown snapshot before touching the running VM.
      const snapshot = await resolveSnapshot(paths, id, snapshotName);
      const before = await readRecord(paths, id);
      // Said before the signal, so a client whose call dies with the VM can tell why.
      await writeStopReason(paths, id, "reset", before.reset_count);
      await stopWorkspaceProcesses(paths, id);
      await faultPoint("reset:stopped");
      await applyInternalSnapshot(files.workspaceDisk, internalName(snapshot.snapshot_name));
      await faultPoint("reset:applied");
      // A full snapshot brings its VM back (root, memory, journal, shells, services); any
      // other a fresh root: /tmp, installed packages and every process from before are gone.
      const full =
        snapshot.snapshot_kind === "full"
          ? await prepareFullRestore(paths, { id, name: snapshot.snapshot_name }, id, null)
          : undefined;
      if (!full) {
        await fs.rm(files.vmDir, { recursive: true, force: true });
        await fs.rm(files.journal, { force: true });
        await fs.rm(journalOutputDir(paths, id), { recursive: true, force: true });
      }
      await fs.rm(files.supervisorSocket, { force: true });
      const record = await readRecord(paths, id);
      await writeRecord(paths, {
        ...record,
        state: "starting",
        command_count: full?.command_count ?? 0,
        reset_count: record.reset_count + 1,
        last_reset_at: new Date().toISOString(),
        last_error: null,
        service_count: full?.service_count ?? 0,
        running_service_count: 0,
      });
      await faultPoint("reset:before-boot");
      try {
        await startSupervisor(paths, id, holder);
      } catch (error) {
        await updateRecord(paths, id, (r) => {
          r.state = "crashed";
          r.last_error ??= error instanceof Error ? error.message : String(error);
        }).catch(() => undefined);
        throw error;
      }
      await faultPoint("reset:booted", () => supervisorPid(paths, id));
      // A fresh guest has an empty /run: the secrets come back from the host file.
      await materializeSecrets(paths, id);
    },
    lifecycleLock(paths, id, "reset"),
  );
  return statusWorkspace(paths, id);
}
