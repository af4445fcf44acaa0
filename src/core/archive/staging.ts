import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { atomicWriteJson, processAlive, readJsonIfExists } from "../fs.js";
import type { PyroPaths } from "../paths.js";

/**
 * Private scratch space for archives on their way in or out, under the state directory (never
 * next to a user's --output). Each staging records its owner pid and any temporary path it made
 * elsewhere (a cross-filesystem copy beside --output); a later pyro command removes stagings whose
 * owner died, with those paths, so a killed export or push leaves nothing behind for long.
 */
export interface Staging {
  /** An empty directory to stage into. */
  readonly tree: string;
  /** Record a temporary path outside the staging so a sweep can remove it if we die. */
  track(hostPath: string): Promise<void>;
  /** Remove the staging and every tracked path that still exists. */
  dispose(): Promise<void>;
}

interface Owner {
  pid: number;
  tracked: string[];
}

/** Temporary names pyro creates beside an --output; a sweep only ever removes such names. */
export const OUTPUT_TEMP_PREFIX = ".pyro-export-";
const ORPHAN_GRACE_MS = 10 * 60_000;

export const stagingRoot = (paths: PyroPaths): string => path.join(paths.stateDir, "staging");

export async function openStaging(paths: PyroPaths, purpose: string): Promise<Staging> {
  await sweepStaleStagings(paths);
  const root = stagingRoot(paths);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  const dir = await fs.mkdtemp(path.join(root, `${purpose}-`));
  const owner: Owner = { pid: process.pid, tracked: [] };
  await atomicWriteJson(path.join(dir, "owner.json"), owner);
  const tree = path.join(dir, "tree");
  await fs.mkdir(tree, { mode: 0o700 });
  return {
    tree,
    track: async (hostPath) => {
      owner.tracked.push(hostPath);
      await atomicWriteJson(path.join(dir, "owner.json"), owner);
    },
    dispose: async () => {
      await removeTracked(owner.tracked);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** Remove stagings whose owner process is gone (or that never got an owner file long ago). */
export async function sweepStaleStagings(paths: PyroPaths): Promise<void> {
  const root = stagingRoot(paths);
  const names = await fs.readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    const dir = path.join(root, name);
    const owner = (await readJsonIfExists(path.join(dir, "owner.json")).catch(() => undefined)) as
      Partial<Owner> | undefined;
    if (owner && typeof owner.pid === "number") {
      if (processAlive(owner.pid)) continue;
      await removeTracked(Array.isArray(owner.tracked) ? owner.tracked : []);
    } else {
      const stat = await fs.stat(dir).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs < ORPHAN_GRACE_MS) continue;
    }
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function removeTracked(tracked: unknown[]): Promise<void> {
  for (const entry of tracked) {
    if (typeof entry !== "string" || !path.basename(entry).startsWith(OUTPUT_TEMP_PREFIX)) continue;
    await fs.rm(entry, { recursive: true, force: true }).catch(() => undefined);
  }
}

export const outputTempName = (output: string, tag: string): string =>
  path.join(
    path.dirname(output),
    `${OUTPUT_TEMP_PREFIX}${tag}-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
