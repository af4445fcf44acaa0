import { z } from "zod";
import { FILE_LIMITS } from "../core/workspace/files.js";
import { MAX_PATCH_FILES } from "../core/workspace/patch.js";
import { defineOperation, managerOptions, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { block, entryListing, lines } from "./human.js";

/**
 * File tools of a running workspace (the original's 3.2): list, read and write text files and
 * apply unified diffs inside /workspace without shell quoting (docs/agent-tools.md).
 */
const byId = { workspace_id: fields.workspaceId };
const MIB = FILE_LIMITS.maxFileBytes;

const fileEntry = z
  .object({
    path: z.string(),
    artifact_type: z.enum(["file", "directory", "symlink", "other"]),
    size_bytes: z.number().int(),
    mode: z.string(),
    link_target: z.string().nullable(),
  })
  .strict();

export const fileList = z
  .object({
    workspace_id: z.string(),
    path: z.string(),
    recursive: z.boolean(),
    count: z.number().int(),
    truncated: z.boolean(),
    entries: z.array(fileEntry),
  })
  .strict();

export const fileRead = z
  .object({
    workspace_id: z.string(),
    path: z.string(),
    size_bytes: z.number().int(),
    offset: z.number().int(),
    start_line: z.number().int().nullable(),
    end_line: z.number().int().nullable(),
    max_bytes: z.number().int(),
    bytes_read: z.number().int(),
    truncated: z.boolean(),
    next_offset: z.number().int().nullable(),
    content: z.string(),
  })
  .strict();

export const fileWrite = z
  .object({
    workspace_id: z.string(),
    path: z.string(),
    bytes_written: z.number().int(),
    created: z.boolean(),
  })
  .strict();

export const patchResult = z
  .object({
    workspace_id: z.string(),
    changed: z.boolean(),
    summary: z
      .object({
        total: z.number().int(),
        added: z.number().int(),
        modified: z.number().int(),
        deleted: z.number().int(),
      })
      .strict(),
    entries: z.array(
      z
        .object({
          path: z.string(),
          status: z.enum(["added", "modified", "deleted"]),
          hunks: z.number().int(),
        })
        .strict(),
    ),
  })
  .strict();

const count = (max: number, description: string) =>
  z.number().int().min(1).max(max).describe(description);

export const listWorkspaceFiles = defineOperation({
  sdk: "listWorkspaceFiles",
  sdkArgs: ["workspace_id"],
  mcp: {
    tool: "workspace_file_list",
    title: "List files in a workspace",
    profiles: ["workspace-core"],
  },
  cli: {
    path: ["workspace", "file", "list"],
    args: ["workspace_id", "path"],
    examples: [
      "pyro workspace file list WORKSPACE_ID",
      "pyro workspace file list WORKSPACE_ID src --recursive",
    ],
  },
  description: `List a directory of /workspace in a running workspace: type, size, mode and symlink target of each entry (at most ${FILE_LIMITS.maxListEntries}; truncated says when there were more).`,
  hints: HINTS.read,
  input: {
    ...byId,
    path: z
      .string()
      .describe("Directory or file under /workspace (default /workspace).")
      .optional(),
    recursive: z
      .boolean()
      .describe("List the whole tree below the path (default false).")
      .optional(),
    max_entries: count(
      FILE_LIMITS.maxListEntries,
      `Most entries to return (default ${FILE_LIMITS.defaultListEntries}).`,
    ).optional(),
  },
  output: fileList,
  run: (manager, input) =>
    manager.listWorkspaceFiles(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (result) => entryListing("workspace-file-list", result),
});

export const readWorkspaceFile = defineOperation({
  sdk: "readWorkspaceFile",
  sdkArgs: ["workspace_id", "path"],
  mcp: {
    tool: "workspace_file_read",
    title: "Read a text file in a workspace",
    profiles: ["workspace-core"],
  },
  cli: {
    path: ["workspace", "file", "read"],
    args: ["workspace_id", "path"],
    examples: [
      "pyro workspace file read WORKSPACE_ID src/app.py",
      "pyro workspace file read WORKSPACE_ID build.log --start-line 100 --end-line 160",
    ],
  },
  description: `Read a UTF-8 text file of /workspace in a running workspace: from a byte offset or a line range, at most max_bytes (default ${FILE_LIMITS.defaultReadBytes}, up to 1 MiB). truncated and next_offset say how to read on. Binary files are refused (export them).`,
  hints: HINTS.read,
  input: {
    ...byId,
    path: z.string().describe("File under /workspace, e.g. src/app.py."),
    max_bytes: count(
      MIB,
      `Most bytes to return (default ${FILE_LIMITS.defaultReadBytes}).`,
    ).optional(),
    offset: z
      .number()
      .int()
      .min(0)
      .describe("Byte offset to start at (default 0); not with start_line/end_line.")
      .optional(),
    start_line: count(Number.MAX_SAFE_INTEGER, "First line to return, from 1.").optional(),
    end_line: count(Number.MAX_SAFE_INTEGER, "Last line to return (inclusive).").optional(),
  },
  output: fileRead,
  run: (manager, input) =>
    manager.readWorkspaceFile(
      input.workspace_id,
      input.path,
      managerOptions(input, ["workspace_id", "path"]),
    ),
  print: (result) => ({
    stdout: block(result.content),
    ...(result.truncated
      ? {
          stderr: lines(
            `[workspace-file-read] showed ${result.bytes_read} of ${result.size_bytes} bytes${result.next_offset !== null ? ` (continue with --offset ${result.next_offset})` : ""}`,
          ),
        }
      : {}),
  }),
});

export const writeWorkspaceFile = defineOperation({
  sdk: "writeWorkspaceFile",
  sdkArgs: ["workspace_id", "path"],
  mcp: {
    tool: "workspace_file_write",
    title: "Write a text file in a workspace",
    profiles: ["workspace-core"],
  },
  cli: {
    path: ["workspace", "file", "write"],
    args: ["workspace_id", "path"],
    examples: ["pyro workspace file write WORKSPACE_ID src/note.txt --text 'hello'"],
  },
  description:
    "Write a whole UTF-8 text file (up to 1 MiB) under /workspace in a running workspace, atomically: the new content replaces the old in one rename, so readers see the old or the new file, never a mix. Missing parent directories are created; an existing file keeps its mode.",
  hints: HINTS.update,
  input: {
    ...byId,
    path: z.string().describe("File under /workspace, e.g. src/note.txt."),
    text: z.string().describe("The file's whole new content (UTF-8 text, at most 1 MiB)."),
  },
  output: fileWrite,
  run: (manager, input) =>
    manager.writeWorkspaceFile(input.workspace_id, input.path, { text: input.text }),
  print: (result) => ({
    stderr: lines(
      `[workspace-file-write] workspace_id=${result.workspace_id} path=${result.path} bytes_written=${result.bytes_written} created=${result.created}`,
    ),
  }),
});

export const applyWorkspacePatch = defineOperation({
  sdk: "applyWorkspacePatch",
  sdkArgs: ["workspace_id"],
  mcp: {
    tool: "workspace_patch_apply",
    title: "Apply a unified diff in a workspace",
    profiles: ["workspace-core"],
  },
  cli: {
    path: ["workspace", "patch", "apply"],
    args: ["workspace_id"],
    examples: [`pyro workspace patch apply WORKSPACE_ID --patch "$(git diff)"`],
  },
  description: `Apply a unified diff (diff -u or git diff format; paths relative to /workspace, a/ and b/ prefixes allowed) to text files of a running workspace, all or nothing: if any hunk does not apply, nothing changes and the error names the file and the hunk. Up to ${MAX_PATCH_FILES} files of at most 1 MiB.`,
  hints: HINTS.update,
  input: {
    ...byId,
    patch: z.string().max(MIB, "must be at most 1 MiB").describe("The unified diff text."),
  },
  output: patchResult,
  run: (manager, input) => manager.applyWorkspacePatch(input.workspace_id, { patch: input.patch }),
  print: (result) => ({
    stdout: lines(...result.entries.map((e) => `${e.status} ${e.path} (${e.hunks} hunks)`)),
    stderr: lines(
      `[workspace-patch-apply] workspace_id=${result.workspace_id} total=${result.summary.total} added=${result.summary.added} modified=${result.summary.modified} deleted=${result.summary.deleted}`,
    ),
  }),
});
