import { z } from "zod";
import { defineOperation, HINTS, managerOptions } from "./define.js";
import { fields } from "./fields.js";
import { identityFields, labelFlag, labelsFromFlags } from "./identity.js";
import { workspaceRecord } from "./payloads.js";
import { printWorkspaceSummary } from "./workspace.js";

/** Names and labels after create (the original's `workspace update`, 3.3). */
export const updateWorkspace = defineOperation({
  sdk: "updateWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_update", title: "Rename or relabel a workspace" },
  cli: {
    path: ["workspace", "update"],
    args: ["workspace_id"],
    extra: {
      options: [
        labelFlag,
        {
          flag: "--clear-label <key>",
          description: "remove the label KEY; repeat for several",
          field: "clear_labels",
          repeatable: true,
        },
      ],
      fold: (values) => {
        const clear = values.clearLabel;
        return {
          ...labelsFromFlags(values),
          ...(clear === undefined ? {} : { clear_labels: Array.isArray(clear) ? clear : [clear] }),
        };
      },
    },
    examples: [
      "pyro workspace update WORKSPACE_ID --name repro-fix --label issue=123",
      "pyro workspace update repro-fix --clear-label issue",
    ],
  },
  description:
    "Change a workspace's name and labels: name renames it (names are unique), labels adds or replaces KEY: VALUE labels, clear_labels removes labels by key (applied before labels). Nothing about the running workspace changes.",
  hints: HINTS.update,
  input: {
    workspace_id: fields.workspaceId,
    name: identityFields.name.optional(),
    labels: identityFields.labels.describe("Labels to add or replace.").optional(),
    clear_labels: z.array(z.string()).describe("Label keys to remove.").optional(),
  },
  output: workspaceRecord,
  run: (manager, input) =>
    manager.updateWorkspace(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: printWorkspaceSummary,
});
