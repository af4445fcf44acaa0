import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../errors.js";
import { faultPoint } from "../fault.js";
import { atomicWriteJson, fsyncDirectory, readJsonIfExists } from "../fs.js";
import type { PyroPaths } from "../paths.js";
import { PLAN_FILE } from "../vm-launch.js";
import type { VmPlan } from "../../runtime/driver.js";
import {
  FULL_SNAPSHOT_FILES,
  FULL_TEMP_PREFIX,
  fullSnapshotsRoot,
  RESTORE_FILE,
  type FullSnapshotMeta,
  type FullSnapshotReply,
  type RestorePlan,
} from "./full-snapshot-files.js";
import { workspaceFiles } from "./layout.js";
import { supervisorPid } from "./processes.js";
import { readRecord } from "./record.js";
import { SupervisorClient } from "./supervisor-client.js";

/** A full snapshot saves the guest's memory: allow this long (800 MB under TCG on a busy host). */
const FULL_SNAPSHOT_DEADLINE_MS = 5 * 60_000;
/** Free space left on the host filesystem after a full snapshot (PYRO_MIN_FREE_MIB overrides). */
const DEFAULT_MIN_FREE_MIB = 1024;

export function fullSnapshotDir(paths: PyroPaths, id: string, name: string): string {
  return path.join(fullSnapshotsRoot(paths, id), name);
}

/**
 * Refuse a full snapshot the host filesystem cannot hold with room to spare: it needs the guest's
 * memory and the root overlay, and must leave PYRO_MIN_FREE_MIB free.
 */
export async function checkRoomForFullSnapshot(paths: PyroPaths, id: string): Promise<void> {
  const files = workspaceFiles(paths, id);
  const record = await readRecord(paths, id);
  const root = await fs.stat(files.rootDisk).then(
    (s) => s.size,
    () => 0,
  );
  const reserveMib = Number(process.env.PYRO_MIN_FREE_MIB ?? DEFAULT_MIN_FREE_MIB);
  const reserve = (Number.isFinite(reserveMib) && reserveMib >= 0 ? reserveMib : 0) * 1024 ** 2;
  const needed = record.mem_mib * 1024 ** 2 + root;
  const stat = await fs.statfs(files.dir);
  const free = stat.bavail * stat.bsize;
  if (free < needed + reserve) {
    const mib = (n: number) => `${Math.round(n / 1024 ** 2)} MiB`;
    throw new PyroError(
      "DISK_SPACE_LOW",
      `not enough free space for a full snapshot of workspace ${id}: it needs about ${mib(needed)} and ${mib(reserve)} must stay free, the host filesystem has ${mib(free)}`,
      {
        hint: `Free space under ${paths.stateDir} (delete full snapshots or workspaces you no longer need), or take a /workspace-only snapshot (kind "workspace").`,
        details: { needed_bytes: needed, reserve_bytes: reserve, free_bytes: free },
      },
    );
  }
}

/**
 * Take a full snapshot of a running workspace (the caller holds its lock and has checked the
 * name): the supervisor writes it into a temporary folder with the VM paused, then it gets its
 * journal and meta.json, is fsynced and renamed into place. A kill at any step leaves only a
 * temporary folder and an unlisted disk snapshot, which the next snapshot operation removes.
 */
export async function writeFullSnapshot(
  paths: PyroPaths,
  id: string,
  name: string,
  diskName: string,
): Promise<FullSnapshotMeta & { disk_bytes: number }> {
  await checkRoomForFullSnapshot(paths, id);
  const root = fullSnapshotsRoot(paths, id);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  const temp = path.join(root, `${FULL_TEMP_PREFIX}${name}-${randomBytes(4).toString("hex")}`);
  await fs.mkdir(temp, { mode: 0o700 });
  const supervisor = await SupervisorClient.connect(paths, id);
  let reply: FullSnapshotReply;
  try {
    reply = await supervisor.request<FullSnapshotReply>(
      "full_snapshot",
      { dir: temp, disk_name: diskName },
      FULL_SNAPSHOT_DEADLINE_MS,
    );
  } finally {
    supervisor.close();
  }
  await faultPoint("full-snapshot:saved", () => supervisorPid(paths, id));
  const files = workspaceFiles(paths, id);
  await fs
    .copyFile(files.journal, path.join(temp, FULL_SNAPSHOT_FILES.journal))
    .catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  const record = await readRecord(paths, id);
  const meta: FullSnapshotMeta = {
    schema_version: 1,
    snapshot_name: name,
    created_at: new Date().toISOString(),
    command_count: record.command_count,
    ...reply,
  };
  await atomicWriteJson(path.join(temp, FULL_SNAPSHOT_FILES.meta), meta);
  await fsyncDirectory(temp);
  const target = fullSnapshotDir(paths, id, name);
  await fs.rm(target, { recursive: true, force: true });
  await fs.rename(temp, target);
  await fsyncDirectory(root);
  return { ...meta, disk_bytes: await folderBytes(target) };
}

/** Bytes the files of a folder take on disk (allocated blocks, so sparse files count true). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir)) {
    const stat = await fs.stat(path.join(dir, entry));
    total += stat.blocks * 512;
  }
  return total;
}

export async function readFullMeta(
  paths: PyroPaths,
  id: string,
  name: string,
): Promise<FullSnapshotMeta | undefined> {
  const value = (await readJsonIfExists(
    path.join(fullSnapshotDir(paths, id, name), FULL_SNAPSHOT_FILES.meta),
  ).catch(() => undefined)) as FullSnapshotMeta | undefined;
  return value?.schema_version === 1 && typeof value.memory_bytes === "number" ? value : undefined;
}

/** Remove every folder under full-snapshots/ that is not a listed, whole full snapshot. */
export async function removeUnlistedFullSnapshots(
  paths: PyroPaths,
  id: string,
  listed: Set<string>,
): Promise<void> {
  const root = fullSnapshotsRoot(paths, id);
  const entries = await fs.readdir(root).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!listed.has(entry)) await fs.rm(path.join(root, entry), { recursive: true, force: true });
  }
}

export async function removeFullSnapshot(
  paths: PyroPaths,
  id: string,
  name: string,
): Promise<void> {
  await fs.rm(fullSnapshotDir(paths, id, name), { recursive: true, force: true });
}

/**
 * Make `target`'s VM folder restore the full snapshot `name` of `source` (the same workspace for
 * a reset, another for a fork): a copy of the root overlay, the plan with the target's disks,
 * and restore.json for its supervisor; the journal goes back to the snapshot's. The caller has
 * stopped the target's VM and restored its /workspace disk.
 */
export async function prepareFullRestore(
  paths: PyroPaths,
  source: { id: string; name: string },
  targetId: string,
  identity: RestorePlan["identity"],
): Promise<FullSnapshotMeta> {
  const dir = fullSnapshotDir(paths, source.id, source.name);
  const meta = await readFullMeta(paths, source.id, source.name);
  if (!meta) {
    throw new PyroError(
      "SNAPSHOT_NOT_FOUND",
      `the full snapshot "${source.name}" of workspace ${source.id} is incomplete`,
      { hint: `Delete it (\`pyro workspace snapshot delete ${source.id} ${source.name}\`).` },
    );
  }
  const files = workspaceFiles(paths, targetId);
  await fs.rm(files.vmDir, { recursive: true, force: true });
  await fs.mkdir(files.vmDir, { recursive: true });
  await fs.copyFile(path.join(dir, FULL_SNAPSHOT_FILES.root), files.rootDisk);
  const plan = JSON.parse(
    await fs.readFile(path.join(dir, FULL_SNAPSHOT_FILES.plan), "utf8"),
  ) as VmPlan;
  const kept: VmPlan = {
    ...plan,
    runDir: files.vmDir,
    rootDisk: { ...plan.rootDisk, path: files.rootDisk },
    ...(plan.workspaceDisk
      ? { workspaceDisk: { ...plan.workspaceDisk, path: files.workspaceDisk } }
      : {}),
    ...(plan.baselineDisk ? { baselineDisk: { ...plan.baselineDisk, path: files.baseline } } : {}),
  };
  await atomicWriteJson(path.join(files.vmDir, PLAN_FILE), kept);
  await fs.rm(files.journal, { force: true });
  await fs
    .copyFile(path.join(dir, FULL_SNAPSHOT_FILES.journal), files.journal)
    .catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  const restore: RestorePlan = { snapshot_dir: dir, memory_bytes: meta.memory_bytes, identity };
  await atomicWriteJson(path.join(files.vmDir, RESTORE_FILE), restore);
  return meta;
}
