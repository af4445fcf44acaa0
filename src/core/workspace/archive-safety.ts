import fs from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
import { PyroError } from "../errors.js";

/**
 * Rules every archive or tree crossing the host/guest boundary must pass (seeds, sync pushes,
 * exports). Paths are relative, never climb with `..`, and links resolve inside the root. Only
 * regular files, directories, symlinks and hard links are accepted: no devices, FIFOs or sockets.
 */
export type ArtifactType = "file" | "directory" | "symlink";

export function unsafe(message: string, hint: string): PyroError {
  return new PyroError("UNSAFE_ARCHIVE", message, { hint });
}

/** Normalise an archive member name; throws when it is absolute or climbs out of the root. */
export function safeMemberPath(name: string): string {
  if (name.includes("\0"))
    throw unsafe(`archive member name contains a NUL byte`, "Rebuild the archive.");
  if (name.startsWith("/")) {
    throw unsafe(
      `archive member "${name}" has an absolute path`,
      "Archives must hold relative paths only.",
    );
  }
  const normalized = path.posix.normalize(name.replace(/\/+$/, "") || ".");
  if (normalized === ".." || normalized.startsWith("../") || name.split("/").includes("..")) {
    throw unsafe(
      `archive member "${name}" climbs out of the root with ..`,
      "Remove .. segments from the archive.",
    );
  }
  return normalized;
}

/** A link target, resolved from the link's own directory, must stay inside the root. */
export function checkLinkTarget(
  memberPath: string,
  target: string,
  kind: "symlink" | "hard link",
): void {
  const resolved =
    kind === "hard link"
      ? path.posix.normalize(target)
      : path.posix.normalize(path.posix.join(path.posix.dirname(memberPath), target));
  if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
    throw unsafe(
      `${kind} "${memberPath}" points outside the root (${target})`,
      "Only links that stay inside the tree are accepted.",
    );
  }
}

export interface TreeStats {
  entryCount: number;
  bytes: number;
}

/** Walk a host directory with lstat and check every entry by the rules above. */
export async function checkHostTree(root: string): Promise<TreeStats> {
  const stats: TreeStats = { entryCount: 0, bytes: 0 };
  const walk = async (dir: string): Promise<void> => {
    for (const dirent of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, dirent.name);
      const rel = path.relative(root, full);
      const st = await fs.lstat(full);
      stats.entryCount += 1;
      if (st.isDirectory()) {
        await walk(full);
      } else if (st.isFile()) {
        stats.bytes += st.size;
      } else if (st.isSymbolicLink()) {
        checkLinkTarget(rel.split(path.sep).join("/"), await fs.readlink(full), "symlink");
      } else {
        throw unsafe(
          `"${rel}" is a device, FIFO or socket`,
          "Only regular files, directories and symlinks can be copied into a workspace.",
        );
      }
    }
  };
  await walk(root);
  return stats;
}

const ALLOWED_TYPES = new Set([
  "File",
  "OldFile",
  "ContiguousFile",
  "Directory",
  "SymbolicLink",
  "Link",
]);
const METADATA_TYPES = new Set([
  "ExtendedHeader",
  "GlobalExtendedHeader",
  "NextFileHasLongPath",
  "NextFileHasLongLinkpath",
  "OldGnuLongPath",
]);

/** Check one tar entry; returns the normalised path. */
export function checkTarEntry(
  entryPath: string,
  type: string,
  linkpath: string | undefined,
): string {
  if (METADATA_TYPES.has(type)) return entryPath;
  const member = safeMemberPath(entryPath);
  if (!ALLOWED_TYPES.has(type)) {
    throw unsafe(
      `archive member "${entryPath}" is a ${type}`,
      "Devices, FIFOs and sockets are refused.",
    );
  }
  if (type === "SymbolicLink") checkLinkTarget(member, linkpath ?? "", "symlink");
  if (type === "Link") checkLinkTarget(member, safeMemberPath(linkpath ?? ""), "hard link");
  return member;
}

export const isTarArchive = (file: string): boolean => /\.(tar|tar\.gz|tgz)$/i.test(file);

/** Read a whole tar (or tar.gz) and check every entry before anything is written anywhere. */
export async function checkTarFile(file: string): Promise<TreeStats> {
  const stats: TreeStats = { entryCount: 0, bytes: 0 };
  let problem: unknown;
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        try {
          checkTarEntry(entry.path, entry.type, entry.linkpath);
          if (entry.path.replace(/\/+$/, "") !== "." && entry.path !== "./") {
            stats.entryCount += 1;
            stats.bytes +=
              entry.type === "File" || entry.type === "OldFile" ? (entry.size ?? 0) : 0;
          }
        } catch (error) {
          problem ??= error;
        }
        entry.resume();
      },
    });
  } catch (error) {
    throw unsafe(
      `archive ${file} is corrupt or truncated: ${(error as Error).message}`,
      "Check the file, or rebuild it with `tar -czf`.",
    );
  }
  if (problem) throw problem;
  return stats;
}
