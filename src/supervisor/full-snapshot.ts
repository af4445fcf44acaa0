import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../core/errors.js";
import { faultPoint } from "../core/fault.js";
import type { WorkspaceFiles } from "../core/workspace/layout.js";
import {
  FULL_SNAPSHOT_FILES,
  FULL_SNAPSHOTS_DIR,
  FULL_TEMP_PREFIX,
  type FullSnapshotReply,
  type SavedHostState,
} from "../core/workspace/full-snapshot-files.js";
import { WORKSPACE_DRIVE_ID } from "../core/workspace/snapshots.js";
import { QMP_SOCKET } from "../runtime/qemu/args.js";
import { QmpClient } from "../runtime/qemu/qmp.js";
import { saveVmState } from "../runtime/qemu/saved-state.js";
import { PLAN_FILE } from "../core/vm-launch.js";
import { MESSAGE_TYPES as T } from "../protocol/messages.js";
import { QMP_DEADLINE_MS } from "../protocol/supervisor-control.js";
import type { SupervisorControl } from "./control.js";
import { agentRunner, GUEST_AGENT, parseUsage } from "./freeze.js";
import type { Multiplexer } from "./mux.js";

/** How long QEMU gets to hand on agent output the guest wrote just before the pause. */
const SETTLE_MS = 50;
const DISK_NAME = /^n-[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface FullSnapshotContext {
  mux: Multiplexer;
  control: SupervisorControl;
  files: WorkspaceFiles;
  workspaceId: string;
}

/**
 * Take a full snapshot into `dir` (a temporary folder the caller renames once this answers):
 * flush the guest, pause the VM, keep the host's shell and service tables as they are at the
 * pause, snapshot /workspace (qcow2 internal snapshot), copy the root overlay, save memory and
 * devices, resume. The VM is paused from the table capture to the end of the save, so the guest,
 * both disks and the host's records are of one instant.
 */
export async function takeFullSnapshot(
  ctx: FullSnapshotContext,
  body: Record<string, unknown>,
): Promise<FullSnapshotReply> {
  const dir = checkDir(ctx.files, body.dir);
  const diskName = body.disk_name;
  if (typeof diskName !== "string" || !DISK_NAME.test(diskName)) {
    throw new PyroError("INVALID_ARGUMENT", "full_snapshot needs a disk_name like n-<name>");
  }
  const starting = ctx.control.services.starting();
  if (starting.length > 0) {
    throw new PyroError(
      "WORKSPACE_BUSY",
      `service ${starting.map((s) => `"${s}"`).join(", ")} is still starting`,
      {
        hint: `Retry once \`pyro workspace service list ${ctx.workspaceId}\` shows it running (a full snapshot keeps services as they are).`,
      },
    );
  }
  const run = agentRunner(ctx.mux, ctx.workspaceId);
  // The agent's `usage` syncs every filesystem, then measures /workspace (no df in busybox images).
  const measured = await run([GUEST_AGENT, "usage", "/workspace"], 60_000);
  const usage = parseUsage(measured.stdout);
  const qmpPath = path.join(ctx.files.vmDir, QMP_SOCKET);
  let paused = false;
  try {
    // QEMU serves one QMP connection at a time: each step opens its own.
    let host: SavedHostState | undefined;
    await withQmp(qmpPath, async (qmp) => {
      await qmp.execute("stop", {}, QMP_DEADLINE_MS);
      paused = true;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      host = {
        schema_version: 1,
        channels: ctx.mux.saveChannels(),
        shells: ctx.control.shells.save(),
        services: ctx.control.services.save(),
      };
      await qmp.execute(
        "blockdev-snapshot-internal-sync",
        { device: WORKSPACE_DRIVE_ID, name: diskName },
        QMP_DEADLINE_MS,
      );
    });
    if (!host) throw new PyroError("VM_SAVE_FAILED", "the VM was not paused");
    // `stop` drained and flushed the disks: the root overlay on disk is the paused guest's.
    await copySynced(ctx.files.rootDisk, path.join(dir, FULL_SNAPSHOT_FILES.root));
    await faultPoint("full-snapshot:disks-done", () => Promise.resolve(process.pid));
    await saveVmState(qmpPath, path.join(dir, FULL_SNAPSHOT_FILES.memory));
    await writeSynced(path.join(dir, FULL_SNAPSHOT_FILES.host), JSON.stringify(host));
    await copySynced(
      path.join(ctx.files.vmDir, PLAN_FILE),
      path.join(dir, FULL_SNAPSHOT_FILES.plan),
    );
    const [memory, root] = await Promise.all([
      fs.stat(path.join(dir, FULL_SNAPSHOT_FILES.memory)),
      fs.stat(path.join(dir, FULL_SNAPSHOT_FILES.root)),
    ]);
    return {
      memory_bytes: memory.size,
      root_bytes: root.size,
      used_bytes: usage.used_bytes,
      entry_count: usage.entry_count,
      shell_count: host.shells.shells.length,
      service_count: host.services.length,
    };
  } finally {
    // After a completed save QEMU is in "postmigrate"; `cont` takes its disks back and runs on.
    if (paused) await withQmp(qmpPath, (qmp) => qmp.execute("cont", {}, QMP_DEADLINE_MS));
  }
}

async function withQmp<T>(qmpPath: string, action: (qmp: QmpClient) => Promise<T>): Promise<T> {
  const qmp = await QmpClient.connect(qmpPath, QMP_DEADLINE_MS);
  try {
    return await action(qmp);
  } finally {
    qmp.close();
  }
}

/** Only a fresh temporary folder of this workspace's full snapshots is written to. */
function checkDir(files: WorkspaceFiles, dir: unknown): string {
  const root = path.join(files.dir, FULL_SNAPSHOTS_DIR);
  if (
    typeof dir !== "string" ||
    path.dirname(dir) !== root ||
    !path.basename(dir).startsWith(FULL_TEMP_PREFIX)
  ) {
    throw new PyroError("INVALID_ARGUMENT", "full_snapshot writes only into its own folder");
  }
  return dir;
}

async function copySynced(from: string, to: string): Promise<void> {
  await fs.copyFile(from, to);
  await fs.chmod(to, 0o600);
  const handle = await fs.open(to, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeSynced(file: string, text: string): Promise<void> {
  const handle = await fs.open(file, "wx", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Take back a restored full snapshot's shells and services (their processes run on in the guest
 * on the same channels) and end every other channel the snapshot had open: those were commands
 * of clients that are gone.
 */
export function adoptHostState(
  ctx: Omit<FullSnapshotContext, "files">,
  host: SavedHostState,
): void {
  ctx.mux.continueChannelsFrom(host.channels.next);
  ctx.control.shells.adopt(host.shells, ctx.workspaceId);
  ctx.control.services.adopt(host.services, ctx.workspaceId);
  const kept = new Set([
    ...host.shells.shells.map((s) => s.channel),
    ...host.services.map((s) => s.channel),
  ]);
  for (const channel of host.channels.open) {
    if (!kept.has(channel)) ctx.mux.sendToAgent(channel, { type: T.SIGNAL, signal: "KILL" });
  }
}
