import fs from "node:fs/promises";
import path from "node:path";
import { invalidArgument, PyroError } from "../errors.js";
import { withLock } from "../lock.js";
import type { PyroPaths } from "../paths.js";
import { WORKSPACE_ID_PATTERN, workspacesDir } from "./layout.js";
import { readRecord, withWorkspaceLock, writeRecord, type WorkspaceRecord } from "./record.js";

/**
 * Workspace names and labels (the original's 3.3): a unique, human name that every operation
 * taking a workspace id also takes, and free-form KEY=VALUE labels that `workspace list` filters
 * by. Both live in the record; names are checked for uniqueness under one state-wide lock.
 */
export const WORKSPACE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;
export const MAX_LABEL_VALUE_CHARS = 256;
export const MAX_LABELS = 64;

export type Labels = Record<string, string>;

/** A valid name: the pattern, and not 12 hex digits (which would read as an id). */
export function checkWorkspaceName(name: string): string {
  if (typeof name !== "string" || !WORKSPACE_NAME_PATTERN.test(name)) {
    throw invalidArgument(
      `invalid workspace name ${JSON.stringify(name)}: --name / name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`,
      "Use letters, digits, '.', '_' and '-' (max 64), starting with a letter or digit.",
    );
  }
  if (WORKSPACE_ID_PATTERN.test(name)) {
    throw invalidArgument(
      `invalid workspace name "${name}": 12 hex digits would read as a workspace id`,
      "Pick a name that is not 12 hex digits, e.g. with a letter past f or a '-'.",
    );
  }
  return name;
}

export function checkLabelKey(key: string): string {
  if (typeof key !== "string" || !LABEL_KEY_PATTERN.test(key)) {
    throw invalidArgument(
      `invalid label key ${JSON.stringify(key)}: --label / labels keys must match ^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$`,
      "Give labels as KEY=VALUE, e.g. --label issue=123.",
    );
  }
  return key;
}

export function checkLabels(labels: Labels): Labels {
  const out: Labels = {};
  for (const [key, value] of Object.entries(labels)) {
    checkLabelKey(key);
    // Control characters would garble the list; the length keeps records small.
    if (
      typeof value !== "string" ||
      value.length > MAX_LABEL_VALUE_CHARS ||
      // eslint-disable-next-line no-control-regex
      /[\u0000-\u001f\u007f]/.test(value)
    ) {
      throw invalidArgument(
        `invalid value for label "${key}": --label / labels values are up to ${MAX_LABEL_VALUE_CHARS} characters without control characters`,
        "Give labels as KEY=VALUE, e.g. --label issue=123.",
      );
    }
    out[key] = value;
  }
  if (Object.keys(out).length > MAX_LABELS) {
    throw invalidArgument(
      `too many labels: at most ${MAX_LABELS}`,
      "Clear some with --clear-label.",
    );
  }
  return out;
}

/** The ids of every workspace folder (with or without a readable record). */
async function workspaceIdsOnDisk(paths: PyroPaths): Promise<string[]> {
  const entries = await fs.readdir(workspacesDir(paths), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && WORKSPACE_ID_PATTERN.test(e.name))
    .map((e) => e.name);
}

async function workspaceNamed(paths: PyroPaths, name: string): Promise<string | undefined> {
  for (const id of await workspaceIdsOnDisk(paths)) {
    const record = await readRecord(paths, id).catch(() => undefined);
    if (record?.name === name) return id;
  }
  return undefined;
}

/**
 * An id or a name to the workspace's id. Ids pass through untouched (their checks come later);
 * a name is looked up among the records. Names can never look like ids, so there is no doubt.
 */
export async function resolveWorkspaceRef(paths: PyroPaths, ref: string): Promise<string> {
  if (typeof ref !== "string" || WORKSPACE_ID_PATTERN.test(ref)) return ref;
  if (WORKSPACE_NAME_PATTERN.test(ref)) {
    const id = await workspaceNamed(paths, ref);
    if (id !== undefined) return id;
  }
  throw new PyroError("WORKSPACE_NOT_FOUND", `no workspace with id or name "${ref}"`, {
    hint: "Give a workspace id (12 hex digits) or name; list them with `pyro workspace list`.",
  });
}

/** Run `action` while no other call can take a name: check-then-write stays one step. */
export function withNamesLock<T>(paths: PyroPaths, action: () => Promise<T>): Promise<T> {
  return withLock(path.join(workspacesDir(paths), ".locks", "names"), () => action(), {
    timeoutMs: 60_000,
    holdMs: 60_000,
    operation: "name",
    what: "the workspace names lock",
  });
}

export async function ensureNameFree(
  paths: PyroPaths,
  name: string,
  ownerId?: string,
): Promise<void> {
  const holder = await workspaceNamed(paths, name);
  if (holder !== undefined && holder !== ownerId) {
    throw new PyroError("WORKSPACE_NAME_TAKEN", `workspace ${holder} is already named "${name}"`, {
      hint: "Names are unique: pick another, or rename that one with `pyro workspace update ID --name NEW`.",
    });
  }
}

export interface UpdateWorkspaceOptions {
  name?: string;
  labels?: Labels;
  clearLabels?: string[];
}

/** Rename and relabel a workspace: labels are merged in after the cleared keys are removed. */
export async function updateWorkspace(
  paths: PyroPaths,
  workspaceId: string,
  options: UpdateWorkspaceOptions,
): Promise<WorkspaceRecord> {
  const name = options.name === undefined ? undefined : checkWorkspaceName(options.name);
  const labels = checkLabels(options.labels ?? {});
  const cleared = (options.clearLabels ?? []).map(checkLabelKey);
  await readRecord(paths, workspaceId);
  // Workspace lock first, then the names lock: the order create takes them in.
  return withWorkspaceLock(paths, workspaceId, () =>
    withNamesLock(paths, async () => {
      if (name !== undefined) await ensureNameFree(paths, name, workspaceId);
      const record = await readRecord(paths, workspaceId);
      if (name !== undefined) record.name = name;
      const next: Labels = { ...(record.labels ?? {}) };
      for (const key of cleared) delete next[key];
      record.labels = checkLabels({ ...next, ...labels });
      await writeRecord(paths, record);
      return record;
    }),
  );
}

/** Does a record carry every one of these labels with the same value? */
export function matchesLabels(record: { labels?: Labels }, wanted: Labels): boolean {
  return Object.entries(wanted).every(([key, value]) => record.labels?.[key] === value);
}
