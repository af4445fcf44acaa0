import path from "node:path";
import {
  FREEZE_DEADLINE_MS,
  FREEZE_LEASE_MS,
  QMP_DEADLINE_MS,
  THAW_DEADLINE_MS,
  type FreezeReply,
  type ThawReply,
} from "../../protocol/supervisor-control.js";
import { QmpClient } from "../../runtime/qemu/qmp.js";
import {
  createInternalSnapshot,
  deleteInternalSnapshot,
  listInternalSnapshots,
} from "../../runtime/qemu/img.js";
import { offlineUsage } from "./offline-usage.js";
import { QMP_SOCKET } from "../../runtime/qemu/args.js";
import { PyroError, invalidArgument } from "../errors.js";
import { atomicWriteJson, readJsonIfExists } from "../fs.js";
import type { PyroPaths } from "../paths.js";
import { workspaceFiles } from "./layout.js";
import { statusWorkspace, supervisorPid } from "./lifecycle.js";
import { SupervisorClient } from "./supervisor-client.js";
import { faultPoint } from "../fault.js";
import { readRecord, withWorkspaceLock } from "./record.js";
import {
  readFullMeta,
  removeFullSnapshot,
  removeUnlistedFullSnapshots,
  writeFullSnapshot,
} from "./full-snapshots.js";

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
 * `entry_count` and `bytes_written` are the same measure for every kind, read from the ext4
 * filesystem's own counters (constant time at any size): bytes_written is the filesystem's used
 * space (what `df` reports), entry_count the inodes in use under /workspace (files, directories,
 * links; a hard-linked file counts once). Live snapshots read them with `df` inside the freeze;
 * the baseline and stopped workspaces read the superblock (see offline-usage.ts).
 */
export interface SnapshotInfo {
  snapshot_name: string;
  kind: "baseline" | "named";
  created_at: string;
  entry_count: number;
  bytes_written: number;
  /** What it keeps: /workspace only (2.8), or the whole running sandbox (full-snapshots.ts). */
  snapshot_kind: SnapshotKind;
  /** Host disk its own files take (full snapshots); null when it shares workspace.qcow2. */
  disk_bytes: number | null;
}

export type SnapshotKind = "workspace" | "full";

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
        bytes_written: s.bytes_written ?? size_bytes ?? 0,
        snapshot_kind: s.snapshot_kind ?? "workspace",
        disk_bytes: s.disk_bytes ?? null,
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
  info: Omit<SnapshotInfo, "snapshot_name" | "kind" | "snapshot_kind" | "disk_bytes">,
): Promise<void> {
  await createInternalSnapshot(
    workspaceFiles(paths, id).workspaceDisk,
    internalName(BASELINE_SNAPSHOT),
  );
  await writeBaselineIndex(paths, id, info);
}

/** An index listing only the baseline (a new workspace, or a fork). */
export async function writeBaselineIndex(
  paths: PyroPaths,
  id: string,
  info: Omit<SnapshotInfo, "snapshot_name" | "kind" | "snapshot_kind" | "disk_bytes">,
): Promise<void> {
  await writeIndex(paths, id, [
    {
      snapshot_name: BASELINE_SNAPSHOT,
      kind: "baseline",
      ...info,
      snapshot_kind: "workspace",
      disk_bytes: null,
    },
  ]);
}

/** The index entries whose disk snapshot exists; disk snapshots nobody lists are removed. */
async function reconcile(paths: PyroPaths, id: string, owner: DiskOwner): Promise<SnapshotInfo[]> {
  const disk = new Set(await listInternalSnapshots(workspaceFiles(paths, id).workspaceDisk));
  const index = await readIndex(paths, id);
  const listed: SnapshotInfo[] = [];
  for (const s of index) {
    if (!disk.has(internalName(s.snapshot_name))) continue;
    // A full snapshot is listed only while its folder is whole (meta.json is written last).
    if (s.snapshot_kind === "full" && !(await readFullMeta(paths, id, s.snapshot_name))) continue;
    listed.push(s);
  }
  if (listed.length !== index.length) await writeIndex(paths, id, listed);
  await removeUnlistedFullSnapshots(
    paths,
    id,
    new Set(listed.filter((s) => s.snapshot_kind === "full").map((s) => s.snapshot_name)),
  );
  const known = new Set(listed.map((s) => internalName(s.snapshot_name)));
  // A booting VM holds the disk and has no QMP yet: orphans wait for the next operation.
  if (owner === "starting") return listed;
  for (const orphan of [...disk].filter((n) => !known.has(n) && n.startsWith("n-"))) {
    await deleteDiskSnapshot(paths, id, orphan, owner === "running");
  }
  return listed;
}

/** Where the workspace disk is: in a running VM, in a VM that is booting, or in no VM. */
type DiskOwner = "running" | "starting" | "stopped";

async function diskOwner(paths: PyroPaths, id: string): Promise<DiskOwner> {
  const { state } = await statusWorkspace(paths, id);
  return state === "started" ? "running" : state === "starting" ? "starting" : "stopped";
}

function workspaceStarting(id: string): PyroError {
  return new PyroError("WORKSPACE_BUSY", `workspace ${id} is starting (its VM is booting)`, {
    hint: `Retry when \`pyro workspace status ${id}\` says started.`,
  });
}

/** One QMP session under a deadline per step; errors gain a hint naming this workspace's fix. */
async function withQmp<T>(
  paths: PyroPaths,
  id: string,
  action: (qmp: QmpClient) => Promise<T>,
): Promise<T> {
  let qmp: QmpClient | undefined;
  try {
    qmp = await QmpClient.connect(
      path.join(workspaceFiles(paths, id).vmDir, QMP_SOCKET),
      QMP_DEADLINE_MS,
    );
    return await action(qmp);
  } catch (error) {
    if (!(error instanceof PyroError) || error.hint !== undefined) throw error;
    const hint =
      error.code === "DISK_ERROR"
        ? `Check free space under the pyro state directory; \`pyro workspace status ${id}\` shows the workspace's state.`
        : `\`pyro workspace status ${id}\` shows what happened; \`pyro workspace reset ${id}\` recovers it.`;
    throw new PyroError(error.code, `workspace ${id}: ${error.message}`, { hint });
  } finally {
    qmp?.close();
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
      qmp.execute(
        "blockdev-snapshot-delete-internal-sync",
        { device: WORKSPACE_DRIVE_ID, name },
        QMP_DEADLINE_MS,
      ),
    );
  } else {
    await deleteInternalSnapshot(workspaceFiles(paths, id).workspaceDisk, name);
  }
}

export async function listSnapshots(paths: PyroPaths, id: string): Promise<SnapshotListPayload> {
  await readRecord(paths, id);
  return withWorkspaceLock(paths, id, async () => {
    const snapshots = await reconcile(paths, id, await diskOwner(paths, id));
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
    const owner = await diskOwner(paths, id);
    if (owner === "starting") throw workspaceStarting(id);
    return action(owner === "running", await reconcile(paths, id, owner));
  });
}

/**
 * Take a named snapshot of the live /workspace. The supervisor freezes the filesystem under a
 * lease (it thaws on our `thaw`, when this connection closes, or when the lease runs out), QMP
 * snapshots the disk, and a snapshot the watchdog thawed under is rolled back: it would not be
 * consistent. Every step has a deadline, so a hung guest gives GUEST_UNRESPONSIVE and the lock is
 * released. Stopped (crashed) workspaces are snapshotted offline.
 */
export async function createSnapshot(
  paths: PyroPaths,
  id: string,
  name: string,
  options: { kind?: SnapshotKind } = {},
): Promise<SnapshotPayload> {
  const snapshotKind = checkSnapshotKind(options.kind);
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
    if (snapshotKind === "full") {
      if (!running) throw fullNeedsRunning(id, (await statusWorkspace(paths, id)).state);
      const full = await writeFullSnapshot(paths, id, name, internalName(name));
      const info: SnapshotInfo = {
        snapshot_name: name,
        kind: "named",
        created_at: full.created_at,
        entry_count: full.entry_count,
        bytes_written: full.used_bytes,
        snapshot_kind: "full",
        disk_bytes: full.disk_bytes,
      };
      await writeIndex(paths, id, [...existing, info]);
      return { workspace_id: id, snapshot: info };
    }
    const usage = running
      ? await liveSnapshot(paths, id, internalName(name))
      : await offlineSnapshot(paths, id, internalName(name));
    await faultPoint("snapshot-create:disk-done", () => supervisorPid(paths, id));
    const info: SnapshotInfo = {
      snapshot_name: name,
      kind: "named",
      created_at: new Date().toISOString(),
      entry_count: usage.entry_count,
      bytes_written: usage.used_bytes,
      snapshot_kind: "workspace",
      disk_bytes: null,
    };
    await writeIndex(paths, id, [...existing, info]);
    return { workspace_id: id, snapshot: info };
  });
}

type Usage = Pick<FreezeReply, "used_bytes" | "entry_count">;

async function liveSnapshot(paths: PyroPaths, id: string, diskName: string): Promise<Usage> {
  const supervisor = await SupervisorClient.connect(paths, id);
  try {
    const frozen = await supervisor.request<FreezeReply>(
      "freeze",
      { lease_ms: FREEZE_LEASE_MS },
      FREEZE_DEADLINE_MS + 5_000,
    );
    // On any failure here, closing the connection (finally) is what thaws: the watchdog's rule.
    await faultPoint("snapshot-create:frozen", () => supervisorPid(paths, id));
    await withQmp(paths, id, (qmp) =>
      qmp.execute(
        "blockdev-snapshot-internal-sync",
        { device: WORKSPACE_DRIVE_ID, name: diskName },
        QMP_DEADLINE_MS,
      ),
    );
    const discard = rollbackAndThrow(paths, id, diskName);
    const thaw = await supervisor
      .request<ThawReply>("thaw", { freeze_id: frozen.freeze_id }, THAW_DEADLINE_MS + 5_000)
      .catch(discard);
    if (!thaw.was_frozen) {
      await discard(
        new PyroError(
          "GUEST_UNRESPONSIVE",
          `the disk snapshot took longer than the ${frozen.lease_ms} ms freeze lease, so it was not consistent and was discarded`,
          { hint: `Retry; if it keeps failing, \`pyro workspace reset ${id}\`.` },
        ),
      );
    }
    return frozen;
  } finally {
    supervisor.close();
  }
}

/** Remove a disk snapshot that must not be kept (best effort: reconcile removes what is left). */
function rollbackAndThrow(paths: PyroPaths, id: string, diskName: string) {
  return async (error: unknown): Promise<never> => {
    await deleteDiskSnapshot(paths, id, diskName, true).catch(() => undefined);
    throw error;
  };
}

async function offlineSnapshot(paths: PyroPaths, id: string, diskName: string): Promise<Usage> {
  const disk = workspaceFiles(paths, id).workspaceDisk;
  await createInternalSnapshot(disk, diskName);
  return offlineUsage(disk);
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
    if (target.snapshot_kind === "full") await removeFullSnapshot(paths, id, name);
    await deleteDiskSnapshot(paths, id, internalName(name), running);
    return { workspace_id: id, snapshot: target };
  });
}

function checkSnapshotKind(kind: unknown): SnapshotKind {
  if (kind === undefined || kind === "workspace" || kind === "full") return kind ?? "workspace";
  throw invalidArgument(
    `invalid snapshot kind "${String(kind)}"`,
    'Use "workspace" (/workspace only, the default) or "full" (memory, processes and disks).',
  );
}

function fullNeedsRunning(id: string, state: string): PyroError {
  return new PyroError(
    "WORKSPACE_NOT_RUNNING",
    `a full snapshot keeps a running sandbox, and workspace ${id} is ${state}`,
    {
      hint:
        state === "stopped"
          ? `Start it first (\`pyro workspace start ${id}\`), or take a /workspace-only snapshot.`
          : `Recover it with \`pyro workspace reset ${id}\`, or take a /workspace-only snapshot.`,
    },
  );
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
  const existing = await reconcile(paths, id, await diskOwner(paths, id));
  const target = existing.find((s) => s.snapshot_name === name);
  if (!target) throw unknownSnapshot(id, name, existing);
  return target;
}
