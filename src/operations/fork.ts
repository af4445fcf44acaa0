import { defineOperation, managerOptions, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { lines } from "./human.js";
import { forkResult } from "./payloads.js";
import { printWorkspaceSummary } from "./workspace.js";

export const forkWorkspace = defineOperation({
  sdk: "forkWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_fork", title: "Fork a workspace" },
  cli: {
    path: ["workspace", "fork"],
    args: ["workspace_id"],
    examples: [
      "pyro workspace fork WORKSPACE_ID",
      "pyro workspace fork WORKSPACE_ID --snapshot installed",
    ],
  },
  description:
    "Create a new workspace from a full snapshot of this one (or from its live state, taking a full snapshot first): a new id with the same files, root filesystem, processes, shells and services, fully independent afterwards, with its own TTL. Its diff baseline is the source's, so two attempts can be compared; it gets fresh entropy, clock, hostname and machine-id.",
  hints: HINTS.add,
  input: {
    workspace_id: fields.workspaceId,
    snapshot: fields.snapshotName
      .describe("A full snapshot of the workspace to fork from (default: its live state).")
      .optional(),
  },
  output: forkResult,
  run: (manager, input) =>
    manager.forkWorkspace(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (record) => ({
    stdout: printWorkspaceSummary(record).stdout,
    stderr: lines(
      `[workspace-fork] workspace_id=${record.workspace_id} source_workspace_id=${record.source_workspace_id} source_snapshot=${record.source_snapshot ?? "-"}`,
    ),
  }),
});
