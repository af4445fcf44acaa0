import { z } from "zod";
import { defineOperation, type HumanOutput, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { lines } from "./human.js";
import { snapshotList, snapshotResult } from "./payloads.js";

const named = { workspace_id: fields.workspaceId, snapshot_name: fields.snapshotName };

function printSnapshot(prefix: string, p: z.output<typeof snapshotResult>): HumanOutput {
  return {
    stderr: lines(
      `[${prefix}] workspace_id=${p.workspace_id} snapshot_name=${p.snapshot.snapshot_name} kind=${p.snapshot.kind} entry_count=${p.snapshot.entry_count} bytes_written=${p.snapshot.bytes_written}`,
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
    examples: ["pyro workspace snapshot create WORKSPACE_ID checkpoint"],
  },
  description:
    "Create one named snapshot of the current /workspace tree, taken live (the filesystem is frozen for the instant of the snapshot). Take one before a risky change; workspace reset can restore it.",
  hints: HINTS.add,
  input: named,
  output: snapshotResult,
  run: (manager, input) => manager.createSnapshot(input.workspace_id, input.snapshot_name),
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
    "List a workspace's snapshots: the implicit baseline first, then named snapshots in creation order.",
  hints: HINTS.read,
  input: { workspace_id: fields.workspaceId },
  output: snapshotList,
  run: (manager, input) => manager.listSnapshots(input.workspace_id),
  print: (result) => ({
    stdout: lines(
      ...result.snapshots.map(
        (s) =>
          `${s.snapshot_name}  ${s.kind}  entry_count=${s.entry_count} bytes_written=${s.bytes_written}  ${s.created_at}`,
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
