import { createTwoFilesPatch } from "diff";
import * as tar from "tar";
import type { AgentConnection } from "../../protocol/client.js";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import type { ArtifactType } from "./archive-safety.js";
import { BASELINE_GUEST_PATH, WORKSPACE_GUEST_PATH } from "./layout.js";
import { connectWorkspace } from "./lifecycle.js";
import { pathFilter, type PathFilter } from "./path-filter.js";
import { BASELINE_SNAPSHOT } from "./snapshots.js";
import { openSnapshotTree, type SnapshotTree } from "./snapshot-tree.js";

/**
 * Compare live /workspace with the immutable baseline. The guest has the baseline mounted
 * read-only beside /workspace; it lists both trees (type, mode, size, mtime), the host compares
 * the lists, asks the guest to compare contents only where the metadata differs, then fetches the
 * changed text files (bounded) and writes unified patches with the `diff` library.
 */
export type DiffStatus = "added" | "modified" | "deleted" | "type_changed";

export interface DiffEntry {
  path: string;
  status: DiffStatus;
  artifact_type: ArtifactType;
  text_patch: boolean;
}

export interface DiffPayload {
  workspace_id: string;
  changed: boolean;
  summary: {
    total: number;
    added: number;
    modified: number;
    deleted: number;
    type_changed: number;
    text_patched: number;
    non_text: number;
  };
  entries: DiffEntry[];
  patch: string;
}

interface Meta {
  type: ArtifactType | "other";
  mode: string;
  size: number;
  mtime: string;
  link: string;
}

/** Files larger than this get a summary entry without a patch. */
export const MAX_PATCH_FILE_BYTES = 256 * 1024;
const MAX_LISTING_BYTES = 256 * 1024 * 1024;

const LIST_SCRIPT =
  'cd "$1" && find . -xdev -mindepth 1 -path ./lost+found -prune -o -printf "%y %m %s %T@\\0%P\\0%l\\0"';

export async function diffWorkspace(
  paths: PyroPaths,
  workspaceId: string,
  options: Partial<PathFilter> & { snapshot?: string } = {},
): Promise<DiffPayload> {
  const keep = pathFilter(options);
  // The baseline is mounted in the guest; a named snapshot is read from the disk on the host.
  const against =
    options.snapshot !== undefined && options.snapshot !== BASELINE_SNAPSHOT
      ? await openSnapshotTree(paths, workspaceId, options.snapshot)
      : null;
  const agent = await connectWorkspace(paths, workspaceId).catch(async (error: unknown) => {
    await against?.dispose();
    throw error;
  });
  try {
    const probe = against
      ? { exitCode: 0 }
      : await capture(agent, ["sh", "-c", `mountpoint -q ${BASELINE_GUEST_PATH}`]);
    if (probe.exitCode !== 0) {
      throw new PyroError(
        "BASELINE_MISSING",
        "diff requires a baseline snapshot, and this workspace's baseline is not mounted",
        {
          hint: "Reset the workspace (`pyro workspace reset ID`) to reattach its baseline.",
        },
      );
    }
    const [live, base] = await Promise.all([
      listTree(agent, WORKSPACE_GUEST_PATH),
      against ? against.tree : listTree(agent, BASELINE_GUEST_PATH),
    ]);
    // Filtered before any content is compared or fetched, so excluded trees cost nothing more.
    if (keep) {
      for (const tree of [live, base])
        for (const p of [...tree.keys()]) if (!keep(p)) tree.delete(p);
    }
    const entries: DiffEntry[] = [];
    const contentCandidates: string[] = [];
    for (const [p, meta] of live) {
      const old = base.get(p);
      if (!old)
        entries.push({
          path: p,
          status: "added",
          artifact_type: artifact(meta),
          text_patch: false,
        });
      else if (old.type !== meta.type)
        entries.push({
          path: p,
          status: "type_changed",
          artifact_type: artifact(meta),
          text_patch: false,
        });
      else if (meta.type === "symlink" && meta.link !== old.link)
        entries.push({ path: p, status: "modified", artifact_type: "symlink", text_patch: false });
      else if (meta.type === "file" && (meta.size !== old.size || meta.mode !== old.mode))
        entries.push({ path: p, status: "modified", artifact_type: "file", text_patch: false });
      else if (meta.type === "file" && meta.mtime !== old.mtime) contentCandidates.push(p);
    }
    for (const [p, meta] of base) {
      if (!live.has(p))
        entries.push({
          path: p,
          status: "deleted",
          artifact_type: artifact(meta),
          text_patch: false,
        });
    }
    const differing = against
      ? await differingFromSnapshot(agent, against, contentCandidates)
      : await differingContents(agent, contentCandidates);
    for (const p of differing) {
      entries.push({ path: p, status: "modified", artifact_type: "file", text_patch: false });
    }
    entries.sort((a, b) => a.path.localeCompare(b.path));

    // Patches for regular files small enough to read.
    const patchable = entries.filter(
      (e) => e.artifact_type === "file" && e.status !== "type_changed",
    );
    const wantLive = patchable
      .filter(
        (e) => e.status !== "deleted" && (live.get(e.path)?.size ?? 0) <= MAX_PATCH_FILE_BYTES,
      )
      .map((e) => e.path);
    const wantBase = patchable
      .filter((e) => e.status !== "added" && (base.get(e.path)?.size ?? 0) <= MAX_PATCH_FILE_BYTES)
      .map((e) => e.path);
    const [liveFiles, baseFiles] = await Promise.all([
      fetchFiles(agent, WORKSPACE_GUEST_PATH, wantLive),
      against
        ? against.contents(wantBase, MAX_PATCH_FILE_BYTES)
        : fetchFiles(agent, BASELINE_GUEST_PATH, wantBase),
    ]);
    const patches: string[] = [];
    for (const entry of patchable) {
      const after = entry.status === "deleted" ? Buffer.alloc(0) : liveFiles.get(entry.path);
      const before = entry.status === "added" ? Buffer.alloc(0) : baseFiles.get(entry.path);
      if (!after || !before || isBinary(after) || isBinary(before)) continue;
      patches.push(
        createTwoFilesPatch(
          entry.status === "added" ? "/dev/null" : `a/${entry.path}`,
          entry.status === "deleted" ? "/dev/null" : `b/${entry.path}`,
          before.toString("utf8"),
          after.toString("utf8"),
          undefined,
          undefined,
          { context: 3 },
        ).replace(/^=+\n/, ""),
      );
      entry.text_patch = true;
    }
    const count = (s: DiffStatus) => entries.filter((e) => e.status === s).length;
    const textPatched = entries.filter((e) => e.text_patch).length;
    return {
      workspace_id: workspaceId,
      changed: entries.length > 0,
      summary: {
        total: entries.length,
        added: count("added"),
        modified: count("modified"),
        deleted: count("deleted"),
        type_changed: count("type_changed"),
        text_patched: textPatched,
        non_text: entries.length - textPatched,
      },
      entries,
      patch: patches.join(""),
    };
  } finally {
    agent.close();
    await against?.dispose();
  }
}

/** Of live files with a snapshot's size and mode, which differ: sha256 in the guest vs host. */
async function differingFromSnapshot(
  agent: AgentConnection,
  snapshot: SnapshotTree,
  candidates: string[],
): Promise<string[]> {
  if (candidates.length === 0) return [];
  const script = `while IFS= read -r -d '' p; do h=$(sha256sum < "${WORKSPACE_GUEST_PATH}/$p" | cut -c1-64); printf '%s\\0' "$h"; done`;
  const { stdout } = await capture(
    agent,
    ["bash", "-c", script],
    Buffer.from(candidates.map((c) => `${c}\0`).join("")),
  );
  const live = stdout.toString("ascii").split("\0");
  const base = await snapshot.sha256(candidates);
  return candidates.filter((p, i) => live[i] === undefined || live[i] !== base.get(p));
}

const artifact = (meta: Meta): ArtifactType => (meta.type === "other" ? "file" : meta.type);

function isBinary(data: Buffer): boolean {
  return data.subarray(0, 8192).includes(0);
}

async function capture(
  agent: AgentConnection,
  argv: string[],
  input?: Buffer,
  limit = MAX_LISTING_BYTES,
) {
  const chunks: Buffer[] = [];
  let size = 0;
  const handle = agent.exec(
    { argv, cwd: "/", timeoutMs: 300_000, stdin: input !== undefined },
    {
      onStdout: (chunk) => {
        size += chunk.length;
        if (size > limit) {
          handle.signal("KILL");
          return;
        }
        chunks.push(chunk);
      },
    },
  );
  if (input !== undefined) {
    await handle.writeStdinAsync(input);
    handle.endStdin();
  }
  const result = await handle.result;
  if (size > limit) {
    throw new PyroError(
      "PROTOCOL_ERROR",
      `the guest sent more than ${limit} bytes for a diff step`,
      {
        hint: "The workspace tree is too large to diff, or the guest is misbehaving.",
      },
    );
  }
  return { exitCode: result.exitCode, stdout: Buffer.concat(chunks) };
}

async function listTree(agent: AgentConnection, root: string): Promise<Map<string, Meta>> {
  const { exitCode, stdout } = await capture(agent, ["sh", "-c", LIST_SCRIPT, "sh", root]);
  if (exitCode !== 0)
    throw new PyroError("GUEST_ERROR", `cannot list ${root} in the guest`, {
      hint: "Reset the workspace.",
    });
  const fields = stdout.toString("utf8").split("\0");
  const tree = new Map<string, Meta>();
  for (let i = 0; i + 2 < fields.length; i += 3) {
    const [type, mode, size, mtime] = (fields[i] as string).split(" ");
    const p = fields[i + 1] as string;
    if (!p || p.startsWith("/") || p.split("/").includes("..")) continue; // never trust odd names
    tree.set(p, {
      type: type === "f" ? "file" : type === "d" ? "directory" : type === "l" ? "symlink" : "other",
      mode: mode ?? "",
      size: Number(size),
      mtime: mtime ?? "",
      link: fields[i + 2] as string,
    });
  }
  return tree;
}

/** Of files with equal size but different mtimes, which really differ (cmp in the guest). */
async function differingContents(agent: AgentConnection, candidates: string[]): Promise<string[]> {
  if (candidates.length === 0) return [];
  const script = `while IFS= read -r -d '' p; do cmp -s "${WORKSPACE_GUEST_PATH}/$p" "${BASELINE_GUEST_PATH}/$p" || printf '%s\\0' "$p"; done`;
  const { stdout } = await capture(
    agent,
    ["bash", "-c", script],
    Buffer.from(candidates.map((c) => `${c}\0`).join("")),
  );
  const asked = new Set(candidates);
  return stdout
    .toString("utf8")
    .split("\0")
    .filter((p) => asked.has(p));
}

/** Contents of some files under a root, via tar; only the requested names are kept. */
async function fetchFiles(
  agent: AgentConnection,
  root: string,
  names: string[],
): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  if (names.length === 0) return files;
  const { stdout } = await capture(
    agent,
    ["tar", "-C", root, "--null", "--no-recursion", "-cf", "-", "-T", "-"],
    Buffer.from(names.map((n) => `${n}\0`).join("")),
  );
  const wanted = new Set(names);
  const parser = new tar.Parser({
    strict: false,
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      let size = 0;
      entry.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_PATCH_FILE_BYTES) chunks.push(c);
      });
      entry.on("end", () => {
        if (wanted.has(entry.path) && entry.type === "File" && size <= MAX_PATCH_FILE_BYTES)
          files.set(entry.path, Buffer.concat(chunks));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on("end", resolve);
    parser.on("error", reject);
    parser.end(stdout);
  });
  return files;
}
