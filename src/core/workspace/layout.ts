import path from "node:path";
import type { PyroPaths } from "../paths.js";

/**
 * Per-workspace layout under `<state>/workspaces/<workspace_id>/`:
 *   workspace.json     the record (atomic writes, under <state>/workspaces/.locks/<id>)
 *   journal.jsonl      command history, one JSON object per line (append-only, cleared by reset)
 *   baseline.ext4      immutable create-time baseline, built on the host with mkfs.ext4 -d
 *   workspace.qcow2    /workspace: a qcow2 overlay backed by baseline.ext4
 *   root.qcow2         the VM root: an overlay on the environment image (thrown away by reset)
 *   supervisor.pid     pid of the host supervisor that owns QEMU and multiplexes clients
 *   supervisor.sock    where clients connect; speaks the agent protocol
 *   stop-reason.json   why the VM was last stopped on purpose (reset, delete, expiry)
 *   vm/                QEMU sockets and the guest serial log
 * The workspace lock (<state>/workspaces/.locks/<id>) is held by create from before the folder
 * exists until the VM is up, so a folder without a record and without a live lock holder is
 * the remains of a killed create.
 */
export const WORKSPACE_GUEST_PATH = "/workspace";
export const BASELINE_GUEST_PATH = "/run/pyro/baseline";

export function workspacesDir(paths: PyroPaths): string {
  return path.join(paths.stateDir, "workspaces");
}

export interface WorkspaceFiles {
  dir: string;
  record: string;
  journal: string;
  lock: string;
  baseline: string;
  workspaceDisk: string;
  rootDisk: string;
  supervisorPid: string;
  supervisorSocket: string;
  supervisorLog: string;
  stopReason: string;
  vmDir: string;
}

export function workspaceFiles(paths: PyroPaths, workspaceId: string): WorkspaceFiles {
  const dir = path.join(workspacesDir(paths), workspaceId);
  return {
    dir,
    record: path.join(dir, "workspace.json"),
    journal: path.join(dir, "journal.jsonl"),
    // Locks live outside the workspace folder so that taking one never recreates a deleted workspace.
    lock: path.join(workspacesDir(paths), ".locks", workspaceId),
    baseline: path.join(dir, "baseline.ext4"),
    workspaceDisk: path.join(dir, "workspace.qcow2"),
    rootDisk: path.join(dir, "vm", "root.qcow2"),
    supervisorPid: path.join(dir, "supervisor.pid"),
    supervisorSocket: path.join(dir, "supervisor.sock"),
    supervisorLog: path.join(dir, "supervisor.log"),
    stopReason: path.join(dir, "stop-reason.json"),
    vmDir: path.join(dir, "vm"),
  };
}

/** Workspace ids are 12 lowercase hex digits; anything else is refused before touching disk. */
export const WORKSPACE_ID_PATTERN = /^[0-9a-f]{12}$/;
