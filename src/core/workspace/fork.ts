import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { PyroError } from "../errors.js";
import { faultPoint } from "../fault.js";
import type { PyroPaths } from "../paths.js";
import {
  applyInternalSnapshot,
  deleteInternalSnapshot,
  listInternalSnapshots,
} from "../../runtime/qemu/img.js";
import { prepareFullRestore } from "./full-snapshots.js";
import { workspaceFiles } from "./layout.js";
import { startSupervisor, statusWorkspace, supervisorStartMs } from "./lifecycle.js";
import { stopWorkspaceProcesses } from "./processes.js";
import { readRecord, withWorkspaceLock, writeRecord, type WorkspaceRecord } from "./record.js";
import { readSecrets, writeSecretsFile } from "./secrets.js";
import {
  BASELINE_SNAPSHOT,
  createSnapshot,
  deleteSnapshot,
  internalName,
  resolveSnapshot,
  writeBaselineIndex,
} from "./snapshots.js";

export interface ForkOptions {
  /** A full snapshot of the source; without it one is taken first and removed afterwards. */
  snapshot?: string;
}

export type ForkPayload = WorkspaceRecord & {
  source_workspace_id: string;
  source_snapshot: string | null;
};

/**
 * A new workspace from a full snapshot of another (or of its live state): a new id, the same
 * files, processes, shells and services, then fully independent, with its own TTL. Its baseline
 * is the source's (so `diff` in both compares against the same tree); its named snapshots start
 * empty. The VM gets fresh entropy, clock, hostname and machine-id, as every warm clone does.
 */
export async function forkWorkspace(
  paths: PyroPaths,
  sourceId: string,
  options: ForkOptions = {},
): Promise<ForkPayload> {
  await readRecord(paths, sourceId);
  const temporary = options.snapshot === undefined;
  const name = options.snapshot ?? `fork-${randomBytes(4).toString("hex")}`;
  if (temporary) await createSnapshot(paths, sourceId, name, { kind: "full" });
  try {
    const forkId = await withWorkspaceLock(
      paths,
      sourceId,
      async () => {
        const snapshot = await resolveSnapshot(paths, sourceId, name);
        if (snapshot.snapshot_kind !== "full") throw notFull(sourceId, name);
        const baseline = await resolveSnapshot(paths, sourceId, BASELINE_SNAPSHOT);
        const source = await readRecord(paths, sourceId);
        return createFork(paths, source, name, baseline);
      },
      { operation: "fork", holdMs: supervisorStartMs() + 10 * 60_000 },
    );
    return {
      ...(await statusWorkspace(paths, forkId)),
      source_workspace_id: sourceId,
      source_snapshot: temporary ? null : name,
    };
  } finally {
    if (temporary) await deleteSnapshot(paths, sourceId, name).catch(() => undefined);
  }
}

async function createFork(
  paths: PyroPaths,
  source: WorkspaceRecord,
  name: string,
  baseline: Awaited<ReturnType<typeof resolveSnapshot>>,
): Promise<string> {
  const forkId = randomBytes(6).toString("hex");
  const from = workspaceFiles(paths, source.workspace_id);
  const to = workspaceFiles(paths, forkId);
  await withWorkspaceLock(
    paths,
    forkId,
    async (holder) => {
      await fs.mkdir(to.dir, { recursive: true });
      try {
        // The baseline is immutable: one file serves both (a link, or a copy across devices).
        await fs
          .link(from.baseline, to.baseline)
          .catch(() => fs.copyFile(from.baseline, to.baseline));
        await fs.copyFile(from.workspaceDisk, to.workspaceDisk);
        await applyInternalSnapshot(to.workspaceDisk, internalName(name));
        for (const kept of await listInternalSnapshots(to.workspaceDisk)) {
          if (kept !== internalName(BASELINE_SNAPSHOT)) {
            await deleteInternalSnapshot(to.workspaceDisk, kept);
          }
        }
        await writeBaselineIndex(paths, forkId, {
          created_at: baseline.created_at,
          entry_count: baseline.entry_count,
          bytes_written: baseline.bytes_written,
        });
        const meta = await prepareFullRestore(paths, { id: source.workspace_id, name }, forkId, {
          hostname: "pyro",
          machine_id: randomBytes(16).toString("hex"),
        });
        // The fork's guest holds the source's secrets (in its memory): it carries them on the
        // host too, so its outputs are redacted and its resets put them back.
        await writeSecretsFile(paths, forkId, await readSecrets(paths, source.workspace_id));
        const now = new Date();
        await writeRecord(paths, {
          ...source,
          workspace_id: forkId,
          // Names are unique: a fork is unnamed until `workspace update --name`; labels carry over.
          name: null,
          state: "starting",
          created_at: now.toISOString(),
          expires_at: new Date(now.getTime() + source.ttl_seconds * 1000).toISOString(),
          command_count: meta.command_count,
          reset_count: 0,
          last_reset_at: null,
          last_error: null,
          service_count: meta.service_count,
          running_service_count: 0,
          boot_path: null,
          boot_note: null,
          saved_state_bytes: null,
        });
        await faultPoint("fork:prepared");
        await startSupervisor(paths, forkId, holder);
      } catch (error) {
        await stopWorkspaceProcesses(paths, forkId);
        await fs.rm(to.dir, { recursive: true, force: true });
        throw error;
      }
    },
    { operation: "create", holdMs: supervisorStartMs() + 10 * 60_000, timeoutMs: 0 },
  );
  return forkId;
}

function notFull(id: string, name: string): PyroError {
  return new PyroError(
    "INVALID_ARGUMENT",
    `snapshot "${name}" of workspace ${id} keeps /workspace only; a fork needs a full snapshot`,
    {
      hint: `Fork the live workspace (leave out the snapshot), or take a full snapshot first: snapshot create with kind "full" (CLI: \`pyro workspace snapshot create ${id} NAME --kind full\`).`,
    },
  );
}
