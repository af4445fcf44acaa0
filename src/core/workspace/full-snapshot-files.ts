import path from "node:path";
import type { PyroPaths } from "../paths.js";
import type { SavedService } from "../../supervisor/services.js";
import type { SavedShell } from "../../supervisor/shells.js";
import { workspaceFiles } from "./layout.js";

/**
 * The on-disk form of full snapshots (docs/full-snapshots.md), shared by the host side
 * (full-snapshots.ts) and the supervisor (src/supervisor/full-snapshot.ts):
 *   <workspace>/full-snapshots/<name>/   one complete snapshot, renamed into place when whole
 *     memory.state     QEMU's migration stream of the paused VM (0600)
 *     root.qcow2       the root overlay as it was at the pause
 *     plan.json        the VM's plan (command line, disks) to restore it with
 *     host-state.json  the supervisor's shells and services at the pause
 *     journal.jsonl    the command journal at the snapshot
 *     meta.json        written last: sizes and counters
 *   <workspace>/full-snapshots/.tmp-*   a snapshot being written (never listed; removed later)
 * /workspace itself is a qcow2 internal snapshot of workspace.qcow2, like a named snapshot.
 */
export const FULL_SNAPSHOTS_DIR = "full-snapshots";
export const FULL_TEMP_PREFIX = ".tmp-";
export const FULL_SNAPSHOT_FILES = {
  memory: "memory.state",
  root: "root.qcow2",
  plan: "plan.json",
  host: "host-state.json",
  journal: "journal.jsonl",
  meta: "meta.json",
} as const;
/** In a VM folder: which full snapshot the supervisor restores instead of booting. */
export const RESTORE_FILE = "restore.json";

export function fullSnapshotsRoot(paths: PyroPaths, id: string): string {
  return path.join(workspaceFiles(paths, id).dir, FULL_SNAPSHOTS_DIR);
}

export interface SavedHostState {
  schema_version: 1;
  channels: { next: number; open: number[] };
  shells: { next_id: number; shells: SavedShell[] };
  services: SavedService[];
}

export interface FullSnapshotReply {
  memory_bytes: number;
  root_bytes: number;
  used_bytes: number;
  entry_count: number;
  shell_count: number;
  service_count: number;
}

export interface FullSnapshotMeta extends FullSnapshotReply {
  schema_version: 1;
  snapshot_name: string;
  created_at: string;
  command_count: number;
}

/** What the supervisor restores: a full snapshot's state, and a new identity for a fork. */
export interface RestorePlan {
  snapshot_dir: string;
  memory_bytes: number;
  identity: { hostname: string; machine_id: string } | null;
}
