import path from "node:path";
import { AgentConnection } from "../../protocol/client.js";
import { QmpClient } from "../../runtime/qemu/qmp.js";
import {
  createInternalSnapshot,
  deleteInternalSnapshot,
  listInternalSnapshots,
} from "../../runtime/qemu/img.js";
import { QMP_SOCKET } from "../../runtime/qemu/args.js";
import { PyroError, invalidArgument } from "../errors.js";
import { atomicWriteJson, readJsonIfExists } from "../fs.js";
import type { PyroPaths } from "../paths.js";
import { WORKSPACE_GUEST_PATH, workspaceFiles } from "./layout.js";
import { connectWorkspace, statusWorkspace, supervisorPid } from "./lifecycle.js";
import { faultPoint } from "../fault.js";
import { readRecord, withWorkspaceLock } from "./record.js";

/**
 * Named snapshots of /workspace, kept as qcow2 internal snapshots of workspace.qcow2, so taking,
 * deleting and restoring one costs the same at any workspace size. The index `snapshots.json`
 * only ever lists snapshots that exist on the disk: create writes the disk snapshot first and the
 * index second; delete removes from the index first and the disk second. A crash in between
 * leaves an unlisted disk snapshot, which the next snapshot operation removes.
 */
export const SNAPSHOT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const BASELINE_SNAPSHOT = "baseline";
/** Disk-level names; a prefix keeps user names from being read as qcow2 snapshot ids. */
export const internalName = (name: string): string =>
  name === BASELINE_SNAPSHOT ? "pyro-baseline" : `n-${name}`;
export const WORKSPACE_DRIVE_ID = "pyro-workspace";

/**
 * `entry_count` and `bytes_written` measure the same thing for every kind: the entries under
 * /workspace (files, directories, links; not lost+found) and the bytes of its regular files, as
 * the seed reports them for the baseline. null when the workspace was not running at the time
 * (an offline snapshot cannot look inside the filesystem).
 */
export interface SnapshotInfo {
  snapshot_name: string;
  kind: "baseline" | "named";
  created_at: string;
  entry_count: number | null;
  bytes_written: number | null;
}

export interface SnapshotPayload {
  workspace_id: string;
  snapshot: SnapshotInfo;
}

export interface SnapshotListPayload {
  workspace_id: string;
  count: number;
  snapshots: SnapshotInfo[];
}

interface SnapshotIndex {
  schema_version: 1;
  snapshots: SnapshotInfo[];
}

const indexFile = (paths: PyroPaths, id: string) =>
  path.join(workspaceFiles(paths, id).dir, "snapshots.json");

async function readIndex(paths: PyroPaths, id: string): Promise<SnapshotInfo[]> {
  const value = (await readJsonIfExists(indexFile(paths, id)).catch(() => undefined)) as
    SnapshotIndex | undefined;
  // Indexes written before 2.8.1 call bytes_written size_bytes.
  return Array.isArray(value?.snapshots)
    ? value.snapshots.map(({ size_bytes, ...s }: SnapshotInfo & { size_bytes?: number }) => ({
        ...s,
        bytes_written: s.bytes_written ?? size_bytes ?? null,
      }))
    : [];
}

async function writeIndex(paths: PyroPaths, id: string, snapshots: SnapshotInfo[]): Promise<void> {
  await atomicWriteJson(indexFile(paths, id), {
    schema_version: 1,
    snapshots,
  } satisfies SnapshotIndex);
}

export function checkSnapshotName(
  name: string,
  { allowBaseline }: { allowBaseline: boolean },
): string {
  if (typeof name !== "string" || !SNAPSHOT_NAME_PATTERN.test(name)) {
    throw invalidArgument(
      `invalid snapshot name "${String(name)}"`,
      "Names start with a letter or digit and use only letters, digits, '.', '_' and '-' (at most 64).",
    );
  }
  if (name === BASELINE_SNAPSHOT && !allowBaseline) {
    throw invalidArgument(
      `"${BASELINE_SNAPSHOT}" is reserved for the create-time baseline`,
      "Pick another snapshot name.",
    );
  }
  return name;
}

/** Mark the baseline state on a fresh workspace disk (called once at create). */
export async function markBaseline(
  paths: PyroPaths,
  id: string,
  info: Omit<SnapshotInfo, "snapshot_name" | "kind">,
): Promise<void> {
  await createInternalSnapshot(
    workspaceFiles(paths, id).workspaceDisk,
    internalName(BASELINE_SNAPSHOT),
  );
  await writeIndex(paths, id, [{ snapshot_name: BASELINE_SNAPSHOT, kind: "baseline", ...info }]);
}

/** The index entries whose disk snapshot exists; disk snapshots nobody lists are removed. */
async function reconcile(paths: PyroPaths, id: string, running: boolean): Promise<SnapshotInfo[]> {
  const disk = new Set(await listInternalSnapshots(workspaceFiles(paths, id).workspaceDisk));
  const index = await readIndex(paths, id);
  const listed = index.filter((s) => disk.has(internalName(s.snapshot_name)));
  if (listed.length !== index.length) await writeIndex(paths, id, listed);
  const known = new Set(listed.map((s) => internalName(s.snapshot_name)));
  for (const orphan of [...disk].filter((n) => !known.has(n) && n.startsWith("n-"))) {
    await deleteDiskSnapshot(paths, id, orphan, running);
  }
  return listed;
}

async function isRunning(paths: PyroPaths, id: string): Promise<boolean> {
  return (await statusWorkspace(paths, id)).state === "started";
}

async function withQmp<T>(
  paths: PyroPaths,
  id: string,
  action: (qmp: QmpClient) => Promise<T>,
): Promise<T> {
  const qmp = await QmpClient.connect(path.join(workspaceFiles(paths, id).vmDir, QMP_SOCKET));
  try {
    return await action(qmp);
  } finally {
    qmp.close();
  }
}

async function deleteDiskSnapshot(
  paths: PyroPaths,
  id: string,
  name: string,
  running: boolean,
): Promise<void> {
  if (running) {
    await withQmp(paths, id, (qmp) =>
      qmp.execute("blockdev-snapshot-delete-internal-sync", { device: WORKSPACE_DRIVE_ID, name }),
    );
  } else {
    await deleteInternalSnapshot(workspaceFiles(paths, id).workspaceDisk, name);
  }
}

export async function listSnapshots(paths: PyroPaths, id: string): Promise<SnapshotListPayload> {
  await readRecord(paths, id);
  return withWorkspaceLock(paths, id, async () => {
    const snapshots = await reconcile(paths, id, await isRunning(paths, id));
    const ordered = [
      ...snapshots.filter((s) => s.kind === "baseline"),
      ...snapshots
        .filter((s) => s.kind === "named")
        .sort((a, b) => a.created_at.localeCompare(b.created_at)),
    ];
    return { workspace_id: id, count: ordered.length, snapshots: ordered };
  });
}

/** Validate the name, then run `action` under the workspace lock with the reconciled index. */
async function withSnapshotIndex<T>(
  paths: PyroPaths,
  id: string,
  name: string,
  action: (running: boolean, existing: SnapshotInfo[]) => Promise<T>,
): Promise<T> {
  checkSnapshotName(name, { allowBaseline: false });
  await readRecord(paths, id);
  return withWorkspaceLock(paths, id, async () => {
    const running = await isRunning(paths, id);
    return action(running, await reconcile(paths, id, running));
  });
}

/**
 * Take a named snapshot of the live /workspace. The agent syncs and freezes the filesystem, QMP
 * snapshots the disk, the filesystem is thawed whatever happened. Stopped workspaces are
 * snapshotted offline.
 */
export async function createSnapshot(
  paths: PyroPaths,
  id: string,
  name: string,
): Promise<SnapshotPayload> {
  return withSnapshotIndex(paths, id, name, async (running, existing) => {
    if (existing.some((s) => s.snapshot_name === name)) {
      throw new PyroError(
        "SNAPSHOT_EXISTS",
        `snapshot "${name}" already exists in workspace ${id}`,
        {
          hint: `Delete it first (\`pyro workspace snapshot delete ${id} ${name}\`) or choose another name.`,
        },
      );
    }
    let usage: { entryCount: number | null; bytes: number | null } = {
      entryCount: null,
      bytes: null,
    };
    if (running) {
      const agent = await connectWorkspace(paths, id);
      try {
        usage = await contentUsage(agent);
        await guestRun(agent, [
          "sh",
          "-c",
          `sync -f ${WORKSPACE_GUEST_PATH} && fsfreeze -f ${WORKSPACE_GUEST_PATH}`,
        ]);
        try {
          await faultPoint("snapshot-create:frozen", () => supervisorPid(paths, id));
          await withQmp(paths, id, (qmp) =>
            qmp.execute("blockdev-snapshot-internal-sync", {
              device: WORKSPACE_DRIVE_ID,
              name: internalName(name),
            }),
          );
        } finally {
          await guestRun(agent, ["fsfreeze", "-u", WORKSPACE_GUEST_PATH]);
        }
      } finally {
        agent.close();
      }
    } else {
      await createInternalSnapshot(workspaceFiles(paths, id).workspaceDisk, internalName(name));
    }
    await faultPoint("snapshot-create:disk-done", () => supervisorPid(paths, id));
    const info: SnapshotInfo = {
      snapshot_name: name,
      kind: "named",
      created_at: new Date().toISOString(),
      entry_count: usage.entryCount,
      bytes_written: usage.bytes,
    };
    await writeIndex(paths, id, [...existing, info]);
    return { workspace_id: id, snapshot: info };
  });
}

export async function deleteSnapshot(
  paths: PyroPaths,
  id: string,
  name: string,
): Promise<SnapshotPayload> {
  return withSnapshotIndex(paths, id, name, async (running, existing) => {
    const target = existing.find((s) => s.snapshot_name === name);
    if (!target) throw unknownSnapshot(id, name, existing);
    await writeIndex(
      paths,
      id,
      existing.filter((s) => s !== target),
    );
    await faultPoint("snapshot-delete:index-done", () => supervisorPid(paths, id));
    await deleteDiskSnapshot(paths, id, internalName(name), running);
    return { workspace_id: id, snapshot: target };
  });
}

export function unknownSnapshot(id: string, name: string, existing: SnapshotInfo[]): PyroError {
  return new PyroError("SNAPSHOT_NOT_FOUND", `workspace ${id} has no snapshot "${name}"`, {
    hint: `Existing snapshots: ${existing.map((s) => s.snapshot_name).join(", ")}.`,
  });
}

/** The snapshot to restore, checked against the disk (for reset). Call under the lock. */
export async function resolveSnapshot(
  paths: PyroPaths,
  id: string,
  name: string,
): Promise<SnapshotInfo> {
  checkSnapshotName(name, { allowBaseline: true });
  const existing = await reconcile(paths, id, await isRunning(paths, id));
  const target = existing.find((s) => s.snapshot_name === name);
  if (!target) throw unknownSnapshot(id, name, existing);
  return target;
}

async function guestRun(agent: AgentConnection, argv: string[]): Promise<string> {
  let out = "";
  let err = "";
  const result = await agent.exec(
    { argv, cwd: "/", timeoutMs: 60_000 },
    {
      onStdout: (c) => (out = (out + c.toString()).slice(0, 65536)),
      onStderr: (c) => (err = (err + c.toString()).slice(0, 4096)),
    },
  ).result;
  if (result.exitCode !== 0) {
    throw new PyroError(
      "GUEST_ERROR",
      `${argv.join(" ")} failed in the guest: ${err.trim() || `exit ${result.exitCode}`}`,
      {
        hint: "Reset the workspace if it keeps failing.",
      },
    );
  }
  return out;
}

/**
 * Entries and file bytes under /workspace, counted like the seed counts them (metadata only: no
 * file is read, so the cost does not grow with file sizes).
 */
async function contentUsage(
  agent: AgentConnection,
): Promise<{ entryCount: number; bytes: number }> {
  const out = await guestRun(agent, [
    "sh",
    "-c",
    `find ${WORKSPACE_GUEST_PATH} -xdev -mindepth 1 ! -path ${WORKSPACE_GUEST_PATH}/lost+found ! -path '${WORKSPACE_GUEST_PATH}/lost+found/*' -printf '%y %s\\n' | awk '{ n++; if ($1 == "f") b += $2 } END { printf "%d %d\\n", n, b }'`,
  ]);
  const [entries, bytes] = out.trim().split(/\s+/).map(Number);
  return {
    entryCount: Number.isFinite(entries) ? (entries as number) : 0,
    bytes: Number.isFinite(bytes) ? (bytes as number) : 0,
  };
}
