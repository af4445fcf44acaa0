import { z } from "zod";
import { DISK_DEFAULTS } from "../core/workspace/disk.js";
import { defineOperation, managerOptions, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { block, entryListing, lines } from "./human.js";

/**
 * Offline disk tools: `/workspace` of a workspace whose VM is not running (crashed or stopped),
 * or of one of its snapshots, read from its disk without booting it (docs/disk-tools.md).
 */
const byId = { workspace_id: fields.workspaceId };
const snapshot = fields.snapshotName
  .describe("Read this named snapshot, or baseline, instead of the disk's current state.")
  .optional();

const offline = {
  workspace_id: z.string(),
  snapshot: z.string().nullable(),
  execution_mode: z.literal("offline_disk"),
};

const diskEntry = z
  .object({
    path: z.string(),
    artifact_type: z.enum([
      "file",
      "directory",
      "symlink",
      "fifo",
      "char_device",
      "block_device",
      "socket",
      "unknown",
    ]),
    size_bytes: z.number().int(),
    mode: z.string(),
    link_target: z.string().nullable(),
  })
  .strict();

export const diskList = z
  .object({
    ...offline,
    path: z.string(),
    recursive: z.boolean(),
    count: z.number().int(),
    truncated: z.boolean(),
    entries: z.array(diskEntry),
  })
  .strict();

export const diskRead = z
  .object({
    ...offline,
    path: z.string(),
    size_bytes: z.number().int(),
    max_bytes: z.number().int(),
    bytes_read: z.number().int(),
    truncated: z.boolean(),
    content: z.string(),
  })
  .strict();

export const diskExport = z
  .object({
    ...offline,
    workspace_path: z.string(),
    output_path: z.string(),
    artifact_type: z.enum(["file", "directory"]),
    entry_count: z.number().int(),
    bytes_written: z.number().int(),
  })
  .strict();

const NOT_RUNNING =
  "The workspace's VM must not be running (crashed or stopped); on a running workspace use workspace exec or workspace export.";

export const listWorkspaceDisk = defineOperation({
  sdk: "listWorkspaceDisk",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_disk_list", title: "List a stopped workspace's disk" },
  cli: {
    path: ["workspace", "disk", "list"],
    args: ["workspace_id", "path"],
    examples: [
      "pyro workspace disk list WORKSPACE_ID",
      "pyro workspace disk list WORKSPACE_ID src --recursive --snapshot checkpoint",
    ],
  },
  description: `List /workspace (or a directory in it) from the workspace's disk without booting it: types, sizes, modes and symlink targets (links are shown, never followed). ${NOT_RUNNING}`,
  hints: HINTS.read,
  input: {
    ...byId,
    path: z
      .string()
      .describe("Directory or file under /workspace (default /workspace).")
      .optional(),
    recursive: z
      .boolean()
      .describe(`List the whole tree below the path (at most ${DISK_DEFAULTS.maxEntries} entries).`)
      .optional(),
    snapshot,
  },
  output: diskList,
  run: (manager, input) =>
    manager.listWorkspaceDisk(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (result) => entryListing("workspace-disk-list", result),
});

export const readWorkspaceDisk = defineOperation({
  sdk: "readWorkspaceDisk",
  sdkArgs: ["workspace_id", "path"],
  mcp: { tool: "workspace_disk_read", title: "Read a file from a stopped workspace's disk" },
  cli: {
    path: ["workspace", "disk", "read"],
    args: ["workspace_id", "path"],
    examples: ["pyro workspace disk read WORKSPACE_ID build.log --max-bytes 4096"],
  },
  description: `Read the first bytes of one regular file of /workspace from the workspace's disk without booting it. ${NOT_RUNNING}`,
  hints: HINTS.read,
  input: {
    ...byId,
    path: z.string().describe("File under /workspace, e.g. build.log."),
    max_bytes: z
      .number()
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .describe(`Bytes to read (default ${DISK_DEFAULTS.maxBytes}, at most 16 MiB).`)
      .optional(),
    snapshot,
  },
  output: diskRead,
  run: (manager, input) =>
    manager.readWorkspaceDisk(
      input.workspace_id,
      input.path,
      managerOptions(input, ["workspace_id", "path"]),
    ),
  print: (result) => ({
    stdout: block(result.content),
    ...(result.truncated
      ? {
          stderr: lines(
            `[workspace-disk-read] showed ${result.bytes_read} of ${result.size_bytes} bytes (raise --max-bytes for more)`,
          ),
        }
      : {}),
  }),
});

export const exportWorkspaceDisk = defineOperation({
  sdk: "exportWorkspaceDisk",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_disk_export", title: "Export from a stopped workspace's disk" },
  cli: {
    path: ["workspace", "disk", "export"],
    args: ["workspace_id", "path"],
    flags: { output_path: "--output" },
    examples: [
      "pyro workspace disk export WORKSPACE_ID --output ./rescued",
      "pyro workspace disk export WORKSPACE_ID src --output ./src --snapshot checkpoint",
    ],
  },
  description: `Export a path (default all of /workspace) from the workspace's disk to the host without booting it, with the same checks and refusals as workspace export. ${NOT_RUNNING}`,
  hints: HINTS.add,
  input: {
    ...byId,
    path: z.string().describe("Path under /workspace (default /workspace).").optional(),
    output_path: z.string().describe("Host path to write; must not exist unless overwrite is set."),
    overwrite: z.boolean().describe("Replace an existing output (default false).").optional(),
    snapshot,
  },
  output: diskExport,
  run: (manager, input) =>
    manager.exportWorkspaceDisk(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (result) => ({
    stderr: lines(
      `[workspace-disk-export] workspace_id=${result.workspace_id} workspace_path=${result.workspace_path} snapshot=${result.snapshot ?? "-"} output_path=${result.output_path} artifact_type=${result.artifact_type} entry_count=${result.entry_count} bytes_written=${result.bytes_written}`,
    ),
  }),
});
