import { execFile } from "node:child_process";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { requireTool } from "../../runtime/host-tools.js";

const execFileAsync = promisify(execFile);

export interface DiskUsage {
  used_bytes: number;
  entry_count: number;
}

/**
 * Inodes ext4 reserves for itself (1-10, the root directory among them). pyro removes
 * lost+found after mkfs, so every other inode in use is an entry under /workspace. The live
 * count (`df` in the supervisor's freeze) and the superblock count below both subtract this.
 */
export const RESERVED_INODES = 10;

/** Entries under /workspace from the filesystem's count of inodes in use. */
export const entriesFromInodes = (usedInodes: number): number =>
  Math.max(0, usedInodes - RESERVED_INODES);

/**
 * Usage of a stopped workspace disk, from the ext4 superblock (read through qemu-img, never by
 * mounting what the guest wrote): the counts the filesystem last recorded, computed the way `df`
 * does for a live snapshot. Constant time at any size. Zeros only when the superblock is unreadable.
 */
export async function offlineUsage(disk: string): Promise<DiskUsage> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "pyro-sb-"));
  try {
    const out = path.join(dir, "head.raw");
    await execFileAsync(
      requireTool("qemuImg"),
      ["dd", "-U", "-f", "qcow2", "-O", "raw", "bs=2048", "count=1", `if=${disk}`, `of=${out}`],
      { timeout: 30_000, killSignal: "SIGKILL" },
    );
    return superblockUsage(await readFile(out));
  } catch {
    return { used_bytes: 0, entry_count: 0 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Usage of a raw ext4 image (the baseline at create): its first 2 KiB, read directly. */
export async function imageUsage(image: string): Promise<DiskUsage> {
  const file = await open(image, "r");
  try {
    const head = Buffer.alloc(2048);
    await file.read(head, 0, head.length, 0);
    return superblockUsage(head);
  } finally {
    await file.close();
  }
}

/** Used bytes and entries from the first 2 KiB of an ext4 filesystem (superblock at 1024). */
export function superblockUsage(head: Buffer): DiskUsage {
  const sb = head.subarray(1024, 2048);
  if (sb.length < 1024 || sb.readUInt16LE(0x38) !== 0xef53)
    return { used_bytes: 0, entry_count: 0 };
  const wide = (sb.readUInt32LE(0x60) & 0x80) !== 0; // INCOMPAT_64BIT
  const u64 = (lo: number, hi: number) =>
    sb.readUInt32LE(lo) + (wide ? sb.readUInt32LE(hi) * 2 ** 32 : 0);
  const blocks = u64(0x04, 0x150);
  const free = u64(0x0c, 0x158);
  const overhead = sb.readUInt32LE(0x248);
  const blockSize = 1024 * 2 ** Math.min(sb.readUInt32LE(0x18), 6);
  const inodes = sb.readUInt32LE(0x00);
  const freeInodes = sb.readUInt32LE(0x10);
  const usedBlocks = Math.max(0, blocks - (overhead < blocks ? overhead : 0) - free);
  return {
    used_bytes: usedBlocks * blockSize,
    entry_count: entriesFromInodes(inodes - freeInodes),
  };
}
