import fs from "node:fs/promises";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { PyroError } from "../errors.js";
import { requireTool } from "../../runtime/host-tools.js";
import { checkHostTree, extractTarFile, isTarArchive } from "./archive-safety.js";
import type { WorkspaceSeed } from "./record.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";

const execFileAsync = promisify(execFile);

/** Size of the /workspace filesystem (sparse: only what is written takes space). */
export const WORKSPACE_DISK_MIB = 8192;

/**
 * Build the immutable baseline image from a seed. A directory is checked and used as is; an
 * archive is checked entry by entry, then unpacked into a private staging directory. Either way
 * `mkfs.ext4 -d` writes the image without mounting anything on the host.
 */
export async function buildBaseline(
  seedPath: string | undefined,
  stagingDir: string,
  image: string,
): Promise<WorkspaceSeed> {
  const { seed, source } = await prepareSeed(seedPath, stagingDir);
  await makeExt4(source, image, WORKSPACE_DISK_MIB);
  return seed;
}

/**
 * Check a seed and give its content as a host directory: the seed directory itself (checked
 * as a tree), or the archive checked entry by entry and unpacked into `stagingDir` (empty when
 * there is no seed). Used for the guest's baseline and for a host_compat workspace alike.
 */
export async function prepareSeed(
  seedPath: string | undefined,
  stagingDir: string,
): Promise<{ seed: WorkspaceSeed; source: string }> {
  let source = stagingDir;
  let seed: WorkspaceSeed = {
    mode: "empty",
    seed_path: null,
    destination: WORKSPACE_GUEST_PATH,
    entry_count: 0,
    bytes_written: 0,
  };
  await fs.mkdir(stagingDir, { recursive: true });
  if (seedPath !== undefined) {
    const absolute = resolveSourcePath(seedPath, "seed path");
    const stat = await fs.stat(absolute).catch(() => undefined);
    if (!stat) {
      throw new PyroError("SEED_NOT_FOUND", `seed path ${absolute} does not exist`, {
        hint: "Pass an existing directory or a .tar, .tar.gz or .tgz archive to --seed-path.",
      });
    }
    if (stat.isDirectory()) {
      const stats = await checkHostTree(absolute);
      source = absolute;
      seed = {
        ...seed,
        mode: "directory",
        seed_path: absolute,
        entry_count: stats.entryCount,
        bytes_written: stats.bytes,
      };
    } else if (stat.isFile() && isTarArchive(absolute)) {
      // Unpacked with pyro's own checked writes into the private staging directory; on any
      // problem the caller removes the whole workspace folder, so nothing is half-applied.
      const stats = await extractTarFile(absolute, stagingDir);
      seed = {
        ...seed,
        mode: "tar_archive",
        seed_path: absolute,
        entry_count: stats.entryCount,
        bytes_written: stats.bytes,
      };
    } else {
      throw new PyroError(
        "INVALID_ARGUMENT",
        `seed path ${absolute} is neither a directory nor a tar archive`,
        {
          hint: "Use a directory or a .tar, .tar.gz or .tgz file.",
        },
      );
    }
  }
  return { seed, source };
}

/**
 * A user-given host source path. An empty string would resolve to the current directory and
 * silently seed from it, so it is refused here, in core, for every surface.
 */
export function resolveSourcePath(input: string, what: string): string {
  if (typeof input !== "string" || input.trim() === "" || input.includes("\0")) {
    throw new PyroError("INVALID_ARGUMENT", `${what} is empty`, {
      hint: "Pass an existing directory or a .tar, .tar.gz or .tgz archive (use . for the current directory).",
    });
  }
  return path.resolve(input);
}

export async function makeExt4(sourceDir: string, image: string, sizeMib: number): Promise<void> {
  await execFileAsync(requireTool("mkfs"), [
    "-q",
    "-F",
    "-L",
    "workspace",
    "-E",
    "lazy_itable_init=1,root_owner=0:0",
    "-d",
    sourceDir,
    image,
    `${sizeMib}M`,
  ]);
  // mkfs always makes lost+found; a fresh /workspace is empty, so remove it in the image (no
  // mount: debugfs edits the file). e2fsck recreates it should it ever need one.
  const debugfs = path.join(path.dirname(requireTool("mkfs")), "debugfs");
  await execFileAsync(debugfs, ["-w", "-R", "rmdir lost+found", image]);
}
