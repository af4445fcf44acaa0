import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { requireTool } from "../host-tools.js";

const execFileAsync = promisify(execFile);

/** Offline qcow2 internal-snapshot operations (the VM using the image must be stopped). */
export async function listInternalSnapshots(image: string): Promise<string[]> {
  // -U: read while a running QEMU holds the image lock; listing is safe.
  const { stdout } = await execFileAsync(requireTool("qemuImg"), ["snapshot", "-U", "-l", image]);
  const names: string[] = [];
  for (const line of stdout.split("\n").slice(2)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length >= 2 && /^\d+$/.test(fields[0] as string)) names.push(fields[1] as string);
  }
  return names;
}

export async function createInternalSnapshot(image: string, name: string): Promise<void> {
  await execFileAsync(requireTool("qemuImg"), ["snapshot", "-c", name, image]);
}

export async function applyInternalSnapshot(image: string, name: string): Promise<void> {
  await execFileAsync(requireTool("qemuImg"), ["snapshot", "-a", name, image]);
}

export async function deleteInternalSnapshot(image: string, name: string): Promise<void> {
  await execFileAsync(requireTool("qemuImg"), ["snapshot", "-d", name, image]);
}

/**
 * A qcow2 overlay over a raw image: writes land in the overlay, the backing file is never
 * touched. The backing path is stored relative to the overlay when both share a folder, so the
 * pair stays valid if the folder moves.
 */
export async function createOverlay(backing: string, target: string): Promise<void> {
  const dir = path.dirname(target);
  const backingRef = path.dirname(backing) === dir ? path.basename(backing) : backing;
  await execFileAsync(
    requireTool("qemuImg"),
    ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", backingRef, target],
    { cwd: dir },
  );
}
