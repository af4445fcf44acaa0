import { applyPatch, parsePatch, type StructuredPatch } from "diff";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { commitInGuest, GUEST_EXIT, readInGuest, type CommitOp } from "./guest-files.js";
import {
  decodeText,
  FILE_LIMITS,
  guestPath,
  guestRefusal,
  sha256,
  tooLarge,
  withAgent,
} from "./files.js";
import { workspaceRelative } from "./paths-in-guest.js";

/**
 * Apply a unified diff inside /workspace, all or nothing. The patch is applied on the host, with
 * the `diff` library, to bounded reads of the files it names: the guest needs no `patch` or `git`
 * (debian:12-base has neither), the failing hunk is named exactly, and nothing reaches the guest
 * unless every hunk of every file applies. The new contents then go to the guest in one commit
 * that first checks each file still has the content the patch was applied to (sha256), then
 * renames each into place.
 */
export const MAX_PATCH_FILES = 64;

export interface PatchEntry {
  path: string;
  status: "added" | "modified" | "deleted";
  hunks: number;
}

export interface PatchPayload {
  workspace_id: string;
  changed: boolean;
  summary: { total: number; added: number; modified: number; deleted: number };
  entries: PatchEntry[];
}

interface Planned {
  rel: string;
  status: PatchEntry["status"];
  patch: StructuredPatch;
}

const DEV_NULL = "/dev/null";

/** A patch file name as a path under /workspace: git's a/ and b/ prefixes dropped. */
function patchPath(name: string | undefined, side: "a" | "b"): string | null {
  if (name === undefined || name === "") return null;
  const clean = name.split("\t")[0]?.trim() ?? "";
  if (clean === DEV_NULL) return null;
  return clean.startsWith(`${side}/`) ? clean.slice(2) : clean;
}

function plan(text: string): Planned[] {
  let parsed: StructuredPatch[];
  try {
    parsed = parsePatch(text);
  } catch (error) {
    throw invalidPatch((error as Error).message);
  }
  const files = parsed.filter((p) => p.hunks.length > 0);
  if (files.length === 0) throw invalidPatch("it has no hunks (no @@ lines)");
  if (files.length > MAX_PATCH_FILES)
    throw invalidPatch(`it changes ${files.length} files; at most ${MAX_PATCH_FILES} per patch`);
  const seen = new Set<string>();
  return files.map((patch) => {
    const oldPath = patchPath(patch.oldFileName, "a");
    const newPath = patchPath(patch.newFileName, "b");
    const named = newPath ?? oldPath;
    if (named === null) throw invalidPatch("a file section names no file (--- and +++ lines)");
    const rel = workspaceRelative(named, "patch path");
    if (seen.has(rel)) throw invalidPatch(`it changes ${guestPath(rel)} in two sections`);
    seen.add(rel);
    const status = oldPath === null ? "added" : newPath === null ? "deleted" : "modified";
    return { rel, status, patch };
  });
}

export async function applyWorkspacePatch(
  paths: PyroPaths,
  id: string,
  options: { patch: string },
): Promise<PatchPayload> {
  const planned = plan(options.patch);
  await withAgent(paths, id, async (agent) => {
    const ops: CommitOp[] = [];
    for (const file of planned) {
      let before = "";
      let expect = "absent";
      if (file.status === "added") {
        const probe = await readInGuest(agent, file.rel, { kind: "bytes", offset: 0 }, 0);
        if (probe.exitCode !== GUEST_EXIT.missing)
          throw conflict(file, 1, "the patch creates it, but it already exists");
      } else {
        const read = await readInGuest(
          agent,
          file.rel,
          { kind: "bytes", offset: 0 },
          FILE_LIMITS.maxFileBytes,
        );
        guestRefusal(read.exitCode, file.rel, "patch");
        if (read.more) throw tooLarge(file.rel, read.size);
        before = decodeText(read.data, false, file.rel);
        expect = sha256(read.data);
      }
      const after = applyAll(file, before);
      if (file.status === "deleted") {
        if (after !== "")
          throw conflict(file, file.patch.hunks.length, "the file would not be empty after it");
        ops.push({ op: "del", rel: file.rel, expect });
      } else {
        const content = Buffer.from(after, "utf8");
        if (content.length > FILE_LIMITS.maxFileBytes) throw tooLarge(file.rel, content.length);
        ops.push({ op: "put", rel: file.rel, expect, content });
      }
    }
    const result = await commitInGuest(agent, ops);
    const failed = planned[result.failedIndex ?? 0];
    guestRefusal(result.exitCode, failed?.rel ?? ".", "patch");
  });
  const entries = planned.map((f) => ({
    path: guestPath(f.rel),
    status: f.status,
    hunks: f.patch.hunks.length,
  }));
  const count = (s: PatchEntry["status"]) => entries.filter((e) => e.status === s).length;
  return {
    workspace_id: id,
    changed: entries.length > 0,
    summary: {
      total: entries.length,
      added: count("added"),
      modified: count("modified"),
      deleted: count("deleted"),
    },
    entries,
  };
}

/** Apply every hunk; on failure, find the first hunk that does not fit and name it. */
function applyAll(file: Planned, before: string): string {
  const whole = applyPatch(before, file.patch);
  if (whole !== false) return whole;
  for (let k = 1; k <= file.patch.hunks.length; k++) {
    if (applyPatch(before, { ...file.patch, hunks: file.patch.hunks.slice(0, k) }) === false)
      throw conflict(file, k, "its context or removed lines do not match the file");
  }
  throw conflict(
    file,
    file.patch.hunks.length,
    "its context or removed lines do not match the file",
  );
}

function conflict(file: Planned, hunkNumber: number, why: string): PyroError {
  const hunk = file.patch.hunks[hunkNumber - 1];
  const header = hunk
    ? `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`
    : "";
  return new PyroError(
    "PATCH_CONFLICT",
    `hunk #${hunkNumber} ${header} of ${guestPath(file.rel)} does not apply: ${why}; nothing was changed`,
    {
      hint: `Read the current text with \`pyro workspace file read ID ${file.rel}\` and make the patch against it.`,
      details: { path: guestPath(file.rel), hunk: hunkNumber },
    },
  );
}

function invalidPatch(why: string): PyroError {
  return new PyroError("PATCH_INVALID", `the patch is not a usable unified diff: ${why}`, {
    hint: "Give a unified diff with ---/+++ file lines and @@ hunks, e.g. the output of `diff -u` or `git diff`.",
  });
}
