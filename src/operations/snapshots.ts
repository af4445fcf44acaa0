import { z } from "zod";
import { defineOperation, managerOptions, type HumanOutput, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { lines } from "./human.js";
import { snapshotList, snapshotResult } from "./payloads.js";

const named = { workspace_id: fields.workspaceId, snapshot_name: fields.snapshotName };

function printSnapshot(prefix: string, p: z.output<typeof snapshotResult>): HumanOutput {
  return {
    stderr: lines(
      `[${prefix}] workspace_id=${p.workspace_id} snapshot_name=${p.snapshot.snapshot_name} kind=${p.snapshot.kind} snapshot_kind=${p.snapshot.snapshot_kind} entry_count=${p.snapshot.entry_count} bytes_written=${p.snapshot.bytes_written}${p.snapshot.disk_bytes === null ? "" : ` disk_bytes=${p.snapshot.disk_bytes}`}`,
    ),
  };
}

export const createSnapshot = defineOperation({
  sdk: "createSnapshot",
  sdkArgs: ["workspace_id", "snapshot_name"],
  mcp: { tool: "snapshot_create", title: "Snapshot a workspace" },
  cli: {
    path: ["workspace", "snapshot", "create"],
    args: ["workspace_id", "snapshot_name"],
    examples: [
      "pyro workspace snapshot create WORKSPACE_ID checkpoint",
      "pyro workspace snapshot create WORKSPACE_ID installed --kind full",
    ],
  },
  description:
    'Create one named snapshot. kind "workspace" (default) keeps the current /workspace tree, taken live (the filesystem is frozen for the instant of the snapshot). kind "full" keeps the whole running sandbox: memory and processes, shells and services, the root filesystem (installed packages) and /workspace; it costs host disk about the guest\'s memory. Take one before a risky change; workspace reset restores either kind, workspace fork starts a new workspace from a full one.',
  hints: HINTS.add,
  input: {
    ...named,
    kind: z
      .enum(["workspace", "full"])
      .describe(
        'What to keep: "workspace" (/workspace only, default) or "full" (memory, processes, shells, services, root filesystem and /workspace; the workspace must be running).',
      )
      .optional(),
  },
  output: snapshotResult,
  run: (manager, input) =>
    manager.createSnapshot(
      input.workspace_id,
      input.snapshot_name,
      managerOptions(input, ["workspace_id", "snapshot_name"]),
    ),
  print: (result) => printSnapshot("workspace-snapshot-create", result),
});

export const listSnapshots = defineOperation({
  sdk: "listSnapshots",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "snapshot_list", title: "List snapshots" },
  cli: {
    path: ["workspace", "snapshot", "list"],
    args: ["workspace_id"],
    examples: ["pyro workspace snapshot list WORKSPACE_ID"],
  },
  description:
    "List a workspace's snapshots: the implicit baseline first, then named snapshots in creation order, each with its snapshot_kind (workspace or full) and, for full snapshots, disk_bytes on the host.",
  hints: HINTS.read,
  input: { workspace_id: fields.workspaceId },
  output: snapshotList,
  run: (manager, input) => manager.listSnapshots(input.workspace_id),
  print: (result) => ({
    stdout: lines(
      ...result.snapshots.map(
        (s) =>
          `${s.snapshot_name}  ${s.kind}  ${s.snapshot_kind}  entry_count=${s.entry_count} bytes_written=${s.bytes_written}  disk_bytes=${s.disk_bytes ?? "-"}  ${s.created_at}`,
      ),
    ),
  }),
});

export const deleteSnapshot = defineOperation({
  sdk: "deleteSnapshot",
  sdkArgs: ["workspace_id", "snapshot_name"],
  mcp: { tool: "snapshot_delete", title: "Delete a snapshot" },
  cli: {
    path: ["workspace", "snapshot", "delete"],
    args: ["workspace_id", "snapshot_name"],
    examples: ["pyro workspace snapshot delete WORKSPACE_ID checkpoint"],
  },
  description: "Delete one named snapshot (the baseline cannot be deleted).",
  hints: HINTS.destroy,
  input: named,
  output: snapshotResult,
  run: (manager, input) => manager.deleteSnapshot(input.workspace_id, input.snapshot_name),
  print: (result) => printSnapshot("workspace-snapshot-delete", result),
});
