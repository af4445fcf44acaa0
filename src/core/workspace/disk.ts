import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  Ext4Reader,
  type Ext4Entry,
  fileType,
  prepareSandboxDir,
  diskUnreadable,
  ROOT_INODE,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
} from "../../runtime/ext4-reader.js";
import { convertToRaw } from "../../runtime/qemu/img.js";
import { PyroError, invalidArgument } from "../errors.js";
import { requireGuest } from "../host-compat.js";
import type { PyroPaths } from "../paths.js";
import { StagedWriter } from "../archive/staged-writer.js";
import { OUTPUT_TEMP_PREFIX, openStaging, type Staging } from "../archive/staging.js";
import { decodeName, type MemberKind } from "../archive/tar-reader.js";
import { TreePolicy } from "../archive/tree-policy.js";
import { checkOutputWritable, exists, placeOutput } from "./export.js";
import { WORKSPACE_GUEST_PATH, workspaceFiles } from "./layout.js";
import { statusWorkspace } from "./lifecycle.js";
import { workspaceRelative } from "./paths-in-guest.js";
import { readRecord, withWorkspaceLock } from "./record.js";
import { checkSnapshotName, internalName, resolveSnapshot } from "./snapshots.js";

/**
 * Offline disk tools: list, read and export /workspace of a workspace whose VM is not running
 * (crashed or stopped), at its current state or at a named snapshot, without booting it and
 * without mounting anything. Under the workspace lock the disk (or snapshot) is copied to a
 * private raw image; the lock is then released and the copy is read by the boxed ext4 reader.
 * Paths are resolved by pyro one directory at a time and never through a symlink; an export
 * passes the same tree policy as `workspace export` before anything is written, and is written
 * with the same staged writer, so it gets the same refusals.
 */
export const DISK_DEFAULTS = { maxBytes: 65_536, maxEntries: 10_000 } as const;
const MAX_READ_BYTES = 16 * 1024 * 1024;
const MAX_EXPORT_BYTES = Number(process.env.PYRO_MAX_EXPORT_BYTES ?? 4 * 1024 ** 3);
const MAX_EXPORT_ENTRIES = 1_000_000;

export type DiskEntryType =
  "file" | "directory" | "symlink" | "fifo" | "char_device" | "block_device" | "socket" | "unknown";

export interface DiskEntry {
  path: string;
  artifact_type: DiskEntryType;
  size_bytes: number;
  mode: string;
  link_target: string | null;
}

interface Common {
  workspace_id: string;
  snapshot: string | null;
  execution_mode: "offline_disk";
}

export interface DiskListPayload extends Common {
  path: string;
  recursive: boolean;
  count: number;
  truncated: boolean;
  entries: DiskEntry[];
}

export interface DiskReadPayload extends Common {
  path: string;
  size_bytes: number;
  max_bytes: number;
  bytes_read: number;
  truncated: boolean;
  content: string;
}

export interface DiskExportPayload extends Common {
  workspace_path: string;
  output_path: string;
  artifact_type: "file" | "directory";
  entry_count: number;
  bytes_written: number;
}

export interface DiskOptions {
  /** A named snapshot or "baseline"; the disk's current state when absent. */
  snapshot?: string;
}

/** An entry found on the disk, with its path relative to /workspace. */
interface Found {
  rel: string;
  entry: Ext4Entry;
}

const ROOT: Ext4Entry = { name: ".", inode: ROOT_INODE, mode: S_IFDIR | 0o755, size: 0 };
const guestPath = (rel: string) =>
  rel === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${rel}`;
const join = (parent: string, name: string) => (parent === "." ? name : `${parent}/${name}`);

export async function listWorkspaceDisk(
  paths: PyroPaths,
  id: string,
  options: DiskOptions & { path?: string; recursive?: boolean; maxEntries?: number } = {},
): Promise<DiskListPayload> {
  const rel = workspaceRelative(options.path ?? WORKSPACE_GUEST_PATH, "disk path");
  const recursive = options.recursive === true;
  const max = options.maxEntries ?? DISK_DEFAULTS.maxEntries;
  return withDisk(paths, id, options, async (reader, sandbox, snapshot) => {
    const start = await locate(reader, rel);
    const found: Found[] = [];
    let truncated = false;
    if (fileType(start.mode) !== S_IFDIR) {
      found.push({ rel, entry: start });
    } else {
      truncated = await walk(reader, { rel, entry: start }, max, recursive, (f) => found.push(f));
    }
    const links = await reader.readLinks(
      found.filter((f) => fileType(f.entry.mode) === S_IFLNK).map((f) => f.entry.inode),
      await sandboxSubdir(sandbox, "links"),
    );
    const entries = found.map(({ rel: r, entry }) => ({
      path: guestPath(r),
      artifact_type: entryType(entry.mode),
      size_bytes: fileType(entry.mode) === S_IFDIR ? 0 : entry.size,
      mode: (entry.mode & 0o7777).toString(8).padStart(4, "0"),
      link_target: links.get(entry.inode) ?? null,
    }));
    return {
      workspace_id: id,
      snapshot,
      execution_mode: "offline_disk",
      path: guestPath(rel),
      recursive,
      count: entries.length,
      truncated,
      entries,
    };
  });
}

export async function readWorkspaceDisk(
  paths: PyroPaths,
  id: string,
  guestFile: string,
  options: DiskOptions & { maxBytes?: number } = {},
): Promise<DiskReadPayload> {
  const rel = workspaceRelative(guestFile, "disk path");
  const maxBytes = options.maxBytes ?? DISK_DEFAULTS.maxBytes;
  if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_READ_BYTES) {
    throw invalidArgument(
      `max bytes must be an integer from 1 to ${MAX_READ_BYTES}, got ${String(maxBytes)}`,
      `Pass --max-bytes between 1 and ${MAX_READ_BYTES}; use \`pyro workspace disk export\` for larger files.`,
    );
  }
  return withDisk(paths, id, options, async (reader, _sandbox, snapshot) => {
    const entry = await locate(reader, rel);
    if (fileType(entry.mode) === S_IFDIR) {
      throw invalidArgument(
        `${guestPath(rel)} is a directory`,
        "List it with `pyro workspace disk list ID PATH`.",
      );
    }
    if (fileType(entry.mode) !== S_IFREG) {
      throw new PyroError(
        "UNSAFE_PATH",
        `${guestPath(rel)} is a ${entryType(entry.mode).replace("_", " ")}, not a regular file`,
        {
          hint: "Only regular files are read; `pyro workspace disk list` shows a link's target, which you can read instead.",
        },
      );
    }
    const want = Math.min(maxBytes, entry.size);
    const data = want === 0 ? Buffer.alloc(0) : await reader.readHead(entry.inode, want);
    if (data.length !== want) {
      throw diskUnreadable(
        `${guestPath(rel)}: read ${data.length} of ${want} bytes; the file's blocks are damaged`,
      );
    }
    return {
      workspace_id: id,
      snapshot,
      execution_mode: "offline_disk",
      path: guestPath(rel),
      size_bytes: entry.size,
      max_bytes: maxBytes,
      bytes_read: data.length,
      truncated: entry.size > data.length,
      content: data.toString("utf8"),
    };
  });
}

export async function exportWorkspaceDisk(
  paths: PyroPaths,
  id: string,
  guestSource: string,
  options: DiskOptions & { outputPath: string; overwrite?: boolean },
): Promise<DiskExportPayload> {
  const rel = workspaceRelative(guestSource, "export path");
  const output = path.resolve(options.outputPath);
  if (!options.overwrite && (await exists(output))) {
    throw new PyroError("OUTPUT_EXISTS", `${output} already exists`, {
      hint: "Choose another --output, or pass --overwrite to replace it.",
    });
  }
  await checkOutputWritable(output);
  return withDisk(paths, id, options, async (reader, sandbox, snapshot, staging) => {
    const start = await locate(reader, rel, exportNotFound);
    const found: Found[] = [{ rel, entry: start }];
    if (fileType(start.mode) === S_IFDIR) {
      const cut = await walk(reader, found[0] as Found, MAX_EXPORT_ENTRIES, true, (f) =>
        found.push(f),
      );
      if (cut) {
        throw new PyroError("UNSAFE_ARCHIVE", `the tree has over ${MAX_EXPORT_ENTRIES} entries`, {
          hint: "Export a smaller path.",
        });
      }
    }
    const links = await reader.readLinks(
      found.filter((f) => fileType(f.entry.mode) === S_IFLNK).map((f) => f.entry.inode),
      await sandboxSubdir(sandbox, "links"),
    );
    const members = toMembers(found, links);
    // Check the whole tree before a byte of data is read: the same policy as a live export.
    const preflight = new TreePolicy(rel, "export");
    for (const m of members) preflight.add(m.path, m.kind, m.linkTarget, m.typeflag, m.size);
    const counts = preflight.finish();
    if (counts.bytes > MAX_EXPORT_BYTES) {
      throw new PyroError("UNSAFE_ARCHIVE", `the tree is larger than ${MAX_EXPORT_BYTES} bytes`, {
        hint: "Export a smaller path, or raise PYRO_MAX_EXPORT_BYTES.",
      });
    }
    const files = members.filter((m) => m.kind === "file");
    const dataDir = await sandboxSubdir(sandbox, "data");
    const largest = files.reduce((most, m) => Math.max(most, m.size), 0);
    await reader.dumpFiles(
      files.map((m) => m.inode),
      dataDir,
      largest,
    );
    const writer = new StagedWriter(staging.tree, new TreePolicy(rel, "export"), MAX_EXPORT_BYTES);
    try {
      for (const m of members) await stageMember(writer, m, dataDir);
      await writer.finish();
    } finally {
      await writer.abort();
    }
    const artifact = path.join(staging.tree, rel);
    const stat = await fs.lstat(artifact);
    await placeOutput(artifact, output, options.overwrite === true, staging);
    return {
      workspace_id: id,
      snapshot,
      execution_mode: "offline_disk",
      workspace_path: guestPath(rel),
      output_path: output,
      artifact_type: stat.isDirectory() ? "directory" : "file",
      entry_count: Math.max(counts.entryCount, 1),
      bytes_written: counts.bytes,
    };
  });
}

interface Member {
  path: string;
  kind: MemberKind;
  typeflag: string;
  mode: number;
  size: number;
  linkTarget: string;
  inode: number;
}

/** Disk entries as archive members: a file inode seen again is a hard link to its first path. */
function toMembers(found: Found[], links: Map<number, string>): Member[] {
  const firstPath = new Map<number, string>();
  return found.map(({ rel, entry }) => {
    if (entry.rawName) decodeName(entry.rawName, `name "${rel}"`);
    const type = fileType(entry.mode);
    const base = { path: rel, mode: entry.mode & 0o7777, inode: entry.inode, size: 0 };
    if (type === S_IFDIR) return { ...base, kind: "directory", typeflag: "5", linkTarget: "" };
    if (type === S_IFLNK) {
      return { ...base, kind: "symlink", typeflag: "2", linkTarget: links.get(entry.inode) ?? "" };
    }
    if (type === S_IFREG) {
      const first = firstPath.get(entry.inode);
      if (first !== undefined)
        return { ...base, kind: "hardlink", typeflag: "1", linkTarget: first };
      firstPath.set(entry.inode, rel);
      return { ...base, kind: "file", typeflag: "0", linkTarget: "", size: entry.size };
    }
    return { ...base, kind: "other", typeflag: OTHER_TYPEFLAGS[type] ?? "?", linkTarget: "" };
  });
}

/** Tar typeflags for the refused types, so messages match a live export's. */
const OTHER_TYPEFLAGS: Record<number, string> = {
  0o020000: "3",
  0o060000: "4",
  0o010000: "6",
  0o140000: "socket",
};

/** Hand one member to the staged writer; file data comes from debugfs's dump, checked first. */
async function stageMember(writer: StagedWriter, m: Member, dataDir: string): Promise<void> {
  await writer.member({
    path: m.path,
    kind: m.kind,
    typeflag: m.typeflag,
    mode: m.mode,
    size: m.size,
    realSize: m.size,
    linkTarget: m.linkTarget,
  });
  if (m.kind !== "file") return;
  // O_NOFOLLOW and fstat: only a regular file debugfs wrote is read, never through a link.
  const handle = await fs
    .open(path.join(dataDir, String(m.inode)), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW)
    .catch(() => {
      throw diskUnreadable(`"${m.path}" could not be read from the disk`);
    });
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size !== m.size) {
      throw diskUnreadable(
        `"${m.path}" read back as ${stat.size} bytes but the disk says ${m.size}; its blocks are damaged`,
      );
    }
    const buffer = Buffer.alloc(1024 * 1024);
    let at = 0;
    while (at < m.size) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
      if (bytesRead === 0) break;
      await writer.data(Buffer.from(buffer.subarray(0, bytesRead)));
      at += bytesRead;
    }
    if (at !== m.size) throw diskUnreadable(`"${m.path}" ended early while copying`);
  } finally {
    await handle.close();
  }
  await writer.memberEnd();
}

/** Follow `rel` from the root, one listed directory at a time, never through a symlink. */
async function locate(
  reader: Ext4Reader,
  rel: string,
  missing: (rel: string) => PyroError = notFound,
): Promise<Ext4Entry> {
  let current = ROOT;
  let walked = ".";
  for (const part of rel === "." ? [] : rel.split("/")) {
    if (fileType(current.mode) === S_IFLNK) {
      throw new PyroError(
        "UNSAFE_PATH",
        `${guestPath(walked)} is a symlink; offline disk tools do not follow links`,
        { hint: "Give the path the link points to (`pyro workspace disk list` shows targets)." },
      );
    }
    if (fileType(current.mode) !== S_IFDIR) throw missing(rel);
    const entries = (await reader.list([current.inode])).get(current.inode) ?? [];
    const next = entries.find((e) => e.name === part);
    if (!next) throw missing(rel);
    if (next.rawName) decodeName(next.rawName, `name "${join(walked, part)}"`);
    current = next;
    walked = join(walked, part);
  }
  return current;
}

function notFound(rel: string): PyroError {
  return new PyroError("DISK_PATH_NOT_FOUND", `${guestPath(rel)} does not exist on the disk`, {
    hint: "List what is there with `pyro workspace disk list ID [PATH]`.",
  });
}

/** The code a live export gives, so scripts handle both the same way. */
function exportNotFound(rel: string): PyroError {
  return new PyroError("EXPORT_PATH_NOT_FOUND", `${guestPath(rel)} does not exist on the disk`, {
    hint: "List what is there with `pyro workspace disk list ID [PATH]`.",
  });
}

/**
 * Breadth-first walk below a directory, one debugfs run per level; parents always come before
 * their children. A directory met twice means damaged (or forged) metadata and is refused, so a
 * loop cannot run forever. Returns true when `max` cut the walk short.
 */
async function walk(
  reader: Ext4Reader,
  start: Found,
  max: number,
  recursive: boolean,
  onEntry: (found: Found) => void,
): Promise<boolean> {
  const seen = new Set<number>([start.entry.inode]);
  let level: Found[] = [start];
  let count = 0;
  while (level.length > 0) {
    const listings = await reader.list(level.map((d) => d.entry.inode));
    const next: Found[] = [];
    for (const dir of level) {
      const entries = [...(listings.get(dir.entry.inode) ?? [])].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const entry of entries) {
        if (count >= max) return true;
        count += 1;
        const found = { rel: join(dir.rel, entry.name), entry };
        onEntry(found);
        if (recursive && fileType(entry.mode) === S_IFDIR) {
          if (seen.has(entry.inode)) {
            throw diskUnreadable(
              `directory inode ${entry.inode} appears twice; the disk is damaged`,
            );
          }
          seen.add(entry.inode);
          next.push(found);
        }
      }
    }
    level = next;
  }
  return false;
}

function entryType(mode: number): DiskEntryType {
  const names: Record<number, DiskEntryType> = {
    [S_IFREG]: "file",
    [S_IFDIR]: "directory",
    [S_IFLNK]: "symlink",
    0o010000: "fifo",
    0o020000: "char_device",
    0o060000: "block_device",
    0o140000: "socket",
  };
  return names[fileType(mode)] ?? "unknown";
}

async function sandboxSubdir(sandbox: string, name: string): Promise<string> {
  const dir = path.join(sandbox, name);
  await fs.mkdir(dir, { recursive: true });
  await prepareSandboxDir(dir);
  return dir;
}

/**
 * Check the workspace is not running, copy its disk (or a snapshot) to a private raw image under
 * the workspace lock, then run `action` on a reader of that copy with the lock released. The
 * sandbox directory is tracked by a staging, so a killed pyro leaves nothing behind for long.
 */
async function withDisk<T>(
  paths: PyroPaths,
  id: string,
  options: DiskOptions,
  action: (
    reader: Ext4Reader,
    sandbox: string,
    snapshot: string | null,
    staging: Staging,
  ) => Promise<T>,
): Promise<T> {
  await readRecord(paths, id);
  await requireGuest(paths, id, "an offline disk read");
  if (options.snapshot !== undefined) checkSnapshotName(options.snapshot, { allowBaseline: true });
  const staging = await openStaging(paths, "disk");
  try {
    const sandbox = await fs.mkdtemp(path.join(os.tmpdir(), `${OUTPUT_TEMP_PREFIX}disk-`));
    await staging.track(sandbox);
    await prepareSandboxDir(sandbox);
    const image = path.join(sandbox, "disk.raw");
    await withWorkspaceLock(paths, id, async () => {
      await refuseRunning(paths, id);
      const snapshot =
        options.snapshot === undefined
          ? undefined
          : internalName((await resolveSnapshot(paths, id, options.snapshot)).snapshot_name);
      await convertToRaw(workspaceFiles(paths, id).workspaceDisk, image, snapshot);
    });
    const reader = await Ext4Reader.open(image, sandbox);
    return await action(reader, sandbox, options.snapshot ?? null, staging);
  } finally {
    await staging.dispose();
  }
}

async function refuseRunning(paths: PyroPaths, id: string): Promise<void> {
  const { state } = await statusWorkspace(paths, id);
  if (state === "started") {
    throw new PyroError(
      "WORKSPACE_RUNNING",
      `workspace ${id} is running; offline disk tools read only a stopped or crashed workspace`,
      {
        hint: `Use \`pyro workspace export ${id} PATH --output DEST\` (or \`workspace exec\`) on a running workspace, or stop it first with \`pyro workspace stop ${id}\`.`,
      },
    );
  }
  if (state === "starting") {
    throw new PyroError("WORKSPACE_BUSY", `workspace ${id} is starting (its VM is booting)`, {
      hint: `Wait for it to start and use \`pyro workspace export\`, or retry once it has stopped.`,
    });
  }
}
