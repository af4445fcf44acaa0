import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { PyroError } from "../../core/errors.js";
import { requireTool } from "../host-tools.js";

const execFileAsync = promisify(execFile);
/** qemu-img snapshot work is constant-time; anything this slow is stuck (a hung NFS, a bug). */
const QEMU_IMG_DEADLINE_MS = 60_000;

/** Run qemu-img with a deadline; its failures come back typed, never as INTERNAL. */
async function qemuImg(
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(requireTool("qemuImg"), args, {
      ...options,
      timeout: QEMU_IMG_DEADLINE_MS,
      killSignal: "SIGKILL",
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    throw classifyQemuImgError(args, error);
  }
}

export function classifyQemuImgError(args: string[], error: unknown): PyroError {
  if (error instanceof PyroError) return error;
  const e = error as { stderr?: unknown; killed?: boolean; code?: unknown; message?: string };
  const stderr = typeof e.stderr === "string" ? e.stderr.trim() : "";
  const what = `qemu-img ${args.filter((a) => !a.startsWith("/")).join(" ")}`;
  const detail = (stderr || e.message || "failed").split("\n")[0]?.slice(0, 500);
  if (/Failed to get .*lock|Is another process using the image/i.test(stderr)) {
    return new PyroError("WORKSPACE_BUSY", `${what}: the disk image is in use by a running VM`, {
      hint: "The workspace is starting or another operation holds its disk; retry when `pyro workspace status` says started.",
    });
  }
  if (e.killed) {
    return new PyroError("DISK_ERROR", `${what} did not finish within ${QEMU_IMG_DEADLINE_MS} ms`, {
      hint: "Check the disk under the pyro state directory; retry.",
    });
  }
  if (/No such file|Could not open/i.test(stderr)) {
    return new PyroError("WORKSPACE_CORRUPT", `${what}: ${detail}`, {
      hint: "A disk image of the workspace is missing or unreadable; delete the workspace and create it again.",
    });
  }
  if (/snapshot .*not found|Can't find (the )?snapshot|Could not find snapshot/i.test(stderr)) {
    return new PyroError("SNAPSHOT_NOT_FOUND", `${what}: ${detail}`, {
      hint: "List the snapshots that exist with `pyro workspace snapshot list`.",
    });
  }
  return new PyroError("DISK_ERROR", `${what} failed: ${detail}`, {
    hint: "Check free space and permissions under the pyro state directory, then retry.",
  });
}

/** Offline qcow2 internal-snapshot operations (the VM using the image must be stopped). */
export async function listInternalSnapshots(image: string): Promise<string[]> {
  // -U: read while a running QEMU holds the image lock; listing is safe.
  const { stdout } = await qemuImg(["snapshot", "-U", "-l", image]);
  const names: string[] = [];
  for (const line of stdout.split("\n").slice(2)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length >= 2 && /^\d+$/.test(fields[0] as string)) names.push(fields[1] as string);
  }
  return names;
}

export async function createInternalSnapshot(image: string, name: string): Promise<void> {
  await qemuImg(["snapshot", "-c", name, image]);
}

export async function applyInternalSnapshot(image: string, name: string): Promise<void> {
  await qemuImg(["snapshot", "-a", name, image]);
}

export async function deleteInternalSnapshot(image: string, name: string): Promise<void> {
  await qemuImg(["snapshot", "-d", name, image]);
}

/**
 * A qcow2 overlay over a raw image: writes land in the overlay, the backing file is never
 * touched. The backing path is stored relative to the overlay when both share a folder, so the
 * pair stays valid if the folder moves.
 */
export async function createOverlay(
  backing: string,
  target: string,
  backingFormat: "raw" | "qcow2" = "raw",
): Promise<void> {
  const dir = path.dirname(target);
  const backingRef = path.dirname(backing) === dir ? path.basename(backing) : backing;
  await qemuImg(["create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backingRef, target], {
    cwd: dir,
  });
}

/**
 * A private raw copy of a qcow2 disk (or of one of its internal snapshots), for offline reads.
 * Zeros stay holes, so the copy costs the disk's used space, not its virtual size.
 */
export async function convertToRaw(
  image: string,
  target: string,
  internalSnapshot?: string,
  options: { shared?: boolean } = {},
): Promise<void> {
  const snapshot =
    internalSnapshot === undefined ? [] : ["-l", `snapshot.name=${internalSnapshot}`];
  // `shared` (-U) reads an image a running QEMU holds. Only for an internal snapshot, under the
  // workspace lock: its clusters are copy-on-write and nothing rewrites them while it exists.
  const share = options.shared === true && internalSnapshot !== undefined ? ["-U"] : [];
  await qemuImg([
    "convert",
    "-q",
    ...share,
    ...snapshot,
    "-f",
    "qcow2",
    "-O",
    "raw",
    image,
    target,
  ]);
}
