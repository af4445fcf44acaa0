import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  Ext4Reader,
  fileType,
  prepareSandboxDir,
  ROOT_INODE,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
} from "../../runtime/ext4-reader.js";
import { convertToRaw } from "../../runtime/qemu/img.js";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { OUTPUT_TEMP_PREFIX, openStaging } from "../archive/staging.js";
import { workspaceFiles } from "./layout.js";
import { withWorkspaceLock } from "./record.js";
import { internalName, resolveSnapshot } from "./snapshots.js";

/**
 * A named snapshot's /workspace as the base side of a diff. The snapshot is copied out of the
 * workspace disk (qemu-img, under the workspace lock, shared with the running VM: a snapshot's
 * clusters are copy-on-write, nothing rewrites them while it exists) and read on the host by the
 * boxed ext4 reader of the disk tools; its names are checked like every guest name. There are no
 * mtimes on this side, so files of equal size and mode are compared by sha256.
 */
export interface TreeMeta {
  type: "file" | "directory" | "symlink" | "other";
  mode: string;
  size: number;
  mtime: string;
  link: string;
}

export interface SnapshotTree {
  tree: Map<string, TreeMeta>;
  /** Contents of small files (at most `maxBytes` each); larger ones are left out. */
  contents(names: string[], maxBytes: number): Promise<Map<string, Buffer>>;
  sha256(names: string[]): Promise<Map<string, string>>;
  dispose(): Promise<void>;
}

const MAX_ENTRIES = 1_000_000;
const MAX_HASH_FILE_BYTES = 4 * 1024 ** 3;

export async function openSnapshotTree(
  paths: PyroPaths,
  id: string,
  name: string,
): Promise<SnapshotTree> {
  const staging = await openStaging(paths, "snapshot-diff");
  try {
    const sandbox = await fs.mkdtemp(path.join(os.tmpdir(), `${OUTPUT_TEMP_PREFIX}snapdiff-`));
    await staging.track(sandbox);
    await prepareSandboxDir(sandbox);
    const image = path.join(sandbox, "disk.raw");
    await withWorkspaceLock(paths, id, async () => {
      const snapshot = await resolveSnapshot(paths, id, name);
      await convertToRaw(
        workspaceFiles(paths, id).workspaceDisk,
        image,
        internalName(snapshot.snapshot_name),
        { shared: true },
      );
    });
    const reader = await Ext4Reader.open(image, sandbox);
    const { tree, inodes } = await walkAll(reader, sandbox);
    // Each dump gets a fresh directory that the (unprivileged) reader can write.
    const dump = async (names: string[], maxBytes: number) => {
      const wanted = names.filter((n) => (tree.get(n)?.size ?? Infinity) <= maxBytes);
      const dir = await subdir(sandbox);
      await reader.dumpFiles(
        wanted.map((n) => inodes.get(n) as number),
        dir,
        maxBytes,
      );
      return { wanted, dir };
    };
    return {
      tree,
      contents: async (names, maxBytes) => {
        const out = new Map<string, Buffer>();
        const { wanted, dir } = await dump(names, maxBytes);
        for (const n of wanted)
          out.set(n, await fs.readFile(path.join(dir, String(inodes.get(n)))));
        await fs.rm(dir, { recursive: true, force: true });
        return out;
      },
      sha256: async (names) => {
        const out = new Map<string, string>();
        // One file at a time, removed after hashing, so the copy costs one file of disk.
        for (const n of names) {
          const { wanted, dir } = await dump([n], MAX_HASH_FILE_BYTES);
          if (wanted.length === 0) continue;
          const file = path.join(dir, String(inodes.get(n)));
          const hash = createHash("sha256");
          const handle = await fs.open(file);
          for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer);
          await handle.close();
          out.set(n, hash.digest("hex"));
          await fs.rm(dir, { recursive: true, force: true });
        }
        return out;
      },
      dispose: () => staging.dispose(),
    };
  } catch (error) {
    await staging.dispose();
    throw error;
  }
}

async function walkAll(
  reader: Ext4Reader,
  sandbox: string,
): Promise<{ tree: Map<string, TreeMeta>; inodes: Map<string, number> }> {
  const tree = new Map<string, TreeMeta>();
  const inodes = new Map<string, number>();
  const links: { rel: string; inode: number }[] = [];
  const seen = new Set<number>([ROOT_INODE]);
  let level: { rel: string; inode: number }[] = [{ rel: "", inode: ROOT_INODE }];
  while (level.length > 0) {
    const listings = await reader.list(level.map((d) => d.inode));
    const next: { rel: string; inode: number }[] = [];
    for (const dir of level) {
      for (const entry of listings.get(dir.inode) ?? []) {
        if (dir.rel === "" && entry.name === "lost+found") continue;
        if (entry.rawName || entry.name.includes("/") || entry.name === "..") continue;
        const rel = dir.rel === "" ? entry.name : `${dir.rel}/${entry.name}`;
        const kind = fileType(entry.mode);
        const type =
          kind === S_IFREG
            ? "file"
            : kind === S_IFDIR
              ? "directory"
              : kind === S_IFLNK
                ? "symlink"
                : "other";
        tree.set(rel, {
          type,
          mode: (entry.mode & 0o7777).toString(8),
          size: type === "file" ? entry.size : 0,
          mtime: "",
          link: "",
        });
        inodes.set(rel, entry.inode);
        if (tree.size > MAX_ENTRIES) {
          throw new PyroError(
            "LIMIT_REACHED",
            `the snapshot has more than ${MAX_ENTRIES} entries`,
            {
              hint: "Diff against the baseline, or with --include to narrow the paths.",
            },
          );
        }
        if (type === "symlink") links.push({ rel, inode: entry.inode });
        if (type === "directory" && !seen.has(entry.inode)) {
          seen.add(entry.inode);
          next.push({ rel, inode: entry.inode });
        }
      }
    }
    level = next;
  }
  if (links.length > 0) {
    const linkDir = await subdir(sandbox);
    const targets = await reader.readLinks(
      links.map((l) => l.inode),
      linkDir,
    );
    for (const l of links) {
      const meta = tree.get(l.rel);
      if (meta) meta.link = targets.get(l.inode) ?? "";
    }
  }
  return { tree, inodes };
}

async function subdir(sandbox: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(sandbox, "d-"));
  await prepareSandboxDir(dir);
  return dir;
}
