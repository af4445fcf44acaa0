import { createHash } from "node:crypto";
import type { AgentConnection } from "../../protocol/client.js";
import { PyroError, invalidArgument } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { commitInGuest, GUEST_EXIT, listInGuest, readInGuest } from "./guest-files.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";
import { connectWorkspace } from "./lifecycle.js";
import { workspaceRelative } from "./paths-in-guest.js";

/**
 * File tools for a running workspace: list a directory, read a bounded byte or line range of a
 * text file, write a whole text file atomically. Text only and bounded both ways (the original's
 * 1 MiB WORKSPACE_FILE_MAX_BYTES), paths inside /workspace, typed errors for every refusal.
 */
export const FILE_LIMITS = {
  maxFileBytes: 1024 * 1024,
  defaultReadBytes: 65_536,
  defaultListEntries: 1_000,
  maxListEntries: 10_000,
} as const;

export type FileEntryType = "file" | "directory" | "symlink" | "other";

export interface FileEntry {
  path: string;
  artifact_type: FileEntryType;
  size_bytes: number;
  mode: string;
  link_target: string | null;
}

export interface FileListPayload {
  workspace_id: string;
  path: string;
  recursive: boolean;
  count: number;
  truncated: boolean;
  entries: FileEntry[];
}

export interface FileReadPayload {
  workspace_id: string;
  path: string;
  size_bytes: number;
  offset: number;
  start_line: number | null;
  end_line: number | null;
  max_bytes: number;
  bytes_read: number;
  truncated: boolean;
  /** Byte offset to pass next to continue (byte reads only; null at the end or for line reads). */
  next_offset: number | null;
  content: string;
}

export interface FileWritePayload {
  workspace_id: string;
  path: string;
  bytes_written: number;
  created: boolean;
}

export const guestPath = (rel: string): string =>
  rel === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${rel}`;

const TYPE: Record<string, FileEntryType> = { f: "file", d: "directory", l: "symlink" };

export async function withAgent<T>(
  paths: PyroPaths,
  id: string,
  action: (agent: AgentConnection) => Promise<T>,
): Promise<T> {
  const agent = await connectWorkspace(paths, id);
  try {
    return await action(agent);
  } finally {
    agent.close();
  }
}

export async function listWorkspaceFiles(
  paths: PyroPaths,
  id: string,
  options: { path?: string; recursive?: boolean; maxEntries?: number } = {},
): Promise<FileListPayload> {
  const rel = workspaceRelative(options.path ?? WORKSPACE_GUEST_PATH, "path");
  const recursive = options.recursive === true;
  const max = options.maxEntries ?? FILE_LIMITS.defaultListEntries;
  const listed = await withAgent(paths, id, (agent) => listInGuest(agent, rel, recursive, max));
  guestRefusal(listed.exitCode, rel, "list");
  const entries = listed.entries.map((e) => ({
    path: listed.isDirectory ? (rel === "." ? e.name : `${rel}/${e.name}`) : rel,
    artifact_type: TYPE[e.type] ?? "other",
    size_bytes: e.size,
    mode: e.mode.padStart(4, "0"),
    link_target: e.type === "l" ? e.link : null,
  }));
  return {
    workspace_id: id,
    path: guestPath(rel),
    recursive,
    count: entries.length,
    truncated: listed.more,
    entries,
  };
}

export async function readWorkspaceFile(
  paths: PyroPaths,
  id: string,
  filePath: string,
  options: { maxBytes?: number; offset?: number; startLine?: number; endLine?: number } = {},
): Promise<FileReadPayload> {
  const rel = workspaceRelative(filePath, "path");
  const maxBytes = options.maxBytes ?? FILE_LIMITS.defaultReadBytes;
  const byLines = options.startLine !== undefined || options.endLine !== undefined;
  if (byLines && options.offset !== undefined) {
    throw invalidArgument(
      "--offset cannot be combined with --start-line / --end-line",
      "Read either a byte range (--offset) or a line range (--start-line, --end-line).",
    );
  }
  const start = options.startLine ?? 1;
  const end = options.endLine ?? null;
  if (end !== null && end < start) {
    throw invalidArgument(
      `--end-line (${end}) is before --start-line (${start})`,
      "Give an --end-line at or after --start-line.",
    );
  }
  const offset = options.offset ?? 0;
  const read = await withAgent(paths, id, (agent) =>
    readInGuest(
      agent,
      rel,
      byLines ? { kind: "lines", start, end } : { kind: "bytes", offset },
      maxBytes,
    ),
  );
  guestRefusal(read.exitCode, rel, "read");
  const pastEnd = byLines ? read.data.length === 0 && start > 1 : offset > 0 && offset >= read.size;
  if (pastEnd) {
    throw new PyroError(
      "READ_PAST_END",
      byLines
        ? `${guestPath(rel)} has fewer than ${start} lines`
        : `offset ${offset} is at or past the end of ${guestPath(rel)} (${read.size} bytes)`,
      { hint: `Read from the start; the file is ${read.size} bytes.` },
    );
  }
  const content = decodeText(read.data, read.more, rel);
  const truncated = byLines ? read.more : read.more || offset + read.data.length < read.size;
  return {
    workspace_id: id,
    path: guestPath(rel),
    size_bytes: read.size,
    offset: byLines ? 0 : offset,
    start_line: byLines ? start : null,
    end_line: byLines ? end : null,
    max_bytes: maxBytes,
    bytes_read: Buffer.byteLength(content),
    truncated,
    next_offset: !byLines && truncated ? offset + Buffer.byteLength(content) : null,
    content,
  };
}

/**
 * Bytes from the guest as UTF-8 text. A NUL byte or an invalid sequence means a binary file:
 * refused rather than mangled. A read cut at the byte limit may end inside a character; that
 * partial character is left for the next read.
 */
export function decodeText(data: Buffer, cut: boolean, rel: string): string {
  let usable = data;
  if (cut) usable = data.subarray(0, data.length - partialTail(data));
  if (usable.includes(0)) throw notText(rel);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(usable);
  } catch {
    throw notText(rel);
  }
}

/** How many bytes at the end of `data` are an incomplete UTF-8 sequence (0 to 3). */
function partialTail(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const byte = data[data.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

function notText(rel: string): PyroError {
  return new PyroError("FILE_NOT_TEXT", `${guestPath(rel)} is not UTF-8 text (a binary file)`, {
    hint: `Binary files are not read as text; copy it out with \`pyro workspace export ID ${rel} --output ./file\`.`,
  });
}

export async function writeWorkspaceFile(
  paths: PyroPaths,
  id: string,
  filePath: string,
  options: { text: string },
): Promise<FileWritePayload> {
  const rel = workspaceRelative(filePath, "path");
  if (rel === ".") throw overDirectory(rel);
  if (options.text.includes("\0"))
    throw invalidArgument(
      "--text contains a NUL byte",
      "File tools write text; copy binary files in with `pyro workspace sync push ID SOURCE_PATH`.",
    );
  const content = Buffer.from(options.text, "utf8");
  if (content.length > FILE_LIMITS.maxFileBytes) throw tooLarge(rel, content.length);
  const result = await withAgent(paths, id, (agent) =>
    commitInGuest(agent, [{ op: "put", rel, expect: "-", content }]),
  );
  guestRefusal(result.exitCode, rel, "write");
  return {
    workspace_id: id,
    path: guestPath(rel),
    bytes_written: content.length,
    created: result.existed[0] === false,
  };
}

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export function tooLarge(rel: string, size: number): PyroError {
  return new PyroError(
    "FILE_TOO_LARGE",
    `${guestPath(rel)} would be ${size} bytes; file tools handle text files up to ${FILE_LIMITS.maxFileBytes} bytes`,
    {
      hint: "Write large or generated files with `pyro workspace sync push ID SOURCE_PATH` instead.",
    },
  );
}

function overDirectory(rel: string): PyroError {
  return new PyroError("NOT_A_FILE", `${guestPath(rel)} is a directory`, {
    hint: `Give a file path; see what is there with \`pyro workspace file list ID ${rel}\`.`,
  });
}

/** Turn a guest script's refusal (its exit status) into the typed error for `rel`. */
export function guestRefusal(exitCode: number, rel: string, action: string): void {
  if (exitCode === 0) return;
  const where = guestPath(rel);
  switch (exitCode) {
    case GUEST_EXIT.outside:
      throw new PyroError("UNSAFE_PATH", `${where} leads outside /workspace (through a symlink)`, {
        hint: "Only paths that stay under /workspace can be used; give the link's target inside /workspace.",
      });
    case GUEST_EXIT.missing:
      throw new PyroError("FILE_NOT_FOUND", `${where} does not exist`, {
        hint: "See what exists with `pyro workspace file list ID --recursive`.",
      });
    case GUEST_EXIT.notFile:
      if (action === "write") throw overDirectory(rel);
      throw new PyroError("NOT_A_FILE", `${where} is not a regular file`, {
        hint: `List it with \`pyro workspace file list ID ${rel}\` instead.`,
      });
    case GUEST_EXIT.parentNotDirectory:
      throw new PyroError("NOT_A_FILE", `a parent of ${where} is a file, not a directory`, {
        hint: "Check the path with `pyro workspace file list ID --recursive`.",
      });
    case GUEST_EXIT.changed:
      throw new PyroError("FILE_CHANGED", `${where} changed while the operation ran`, {
        hint: "Nothing was written; run it again.",
      });
    default:
      throw new PyroError(
        "GUEST_ERROR",
        `cannot ${action} ${where} in the guest (exit ${exitCode})`,
        {
          hint: "Check the workspace with `pyro workspace status ID`; reset it if it is broken.",
        },
      );
  }
}
