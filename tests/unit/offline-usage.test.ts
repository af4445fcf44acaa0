import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  imageUsage,
  offlineUsage,
  superblockUsage,
} from "../../src/core/workspace/offline-usage.js";
import { makeExt4 } from "../../src/core/workspace/seed.js";

/** A stopped workspace's usage comes from its ext4 superblock: real mkfs, real qcow2 overlay. */
const dir = mkdtempSync(path.join(os.tmpdir(), "pyro-usage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("offline snapshot usage", () => {
  it("counts the entries and bytes of a workspace disk that no VM runs", async () => {
    const seed = path.join(dir, "seed");
    mkdirSync(path.join(seed, "d"), { recursive: true });
    writeFileSync(path.join(seed, "a"), "a\n");
    writeFileSync(path.join(seed, "d", "big"), Buffer.alloc(3 * 1024 * 1024, 7));
    const base = path.join(dir, "baseline.ext4");
    await makeExt4(seed, base, 64);
    execFileSync("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-F",
      "raw",
      "-b",
      base,
      path.join(dir, "ws.qcow2"),
    ]);
    const usage = await offlineUsage(path.join(dir, "ws.qcow2"));
    expect(usage.entry_count).toBe(3);
    expect(usage.used_bytes).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    expect(usage.used_bytes).toBeLessThan(4 * 1024 * 1024);
    // The baseline at create is measured the same way, from the raw image.
    expect(await imageUsage(base)).toEqual(usage);
  });

  it("something that is not ext4 gives zeros, never garbage", async () => {
    expect(superblockUsage(Buffer.alloc(2048, 0xff))).toEqual({ used_bytes: 0, entry_count: 0 });
    expect(await offlineUsage(path.join(dir, "missing.qcow2"))).toEqual({
      used_bytes: 0,
      entry_count: 0,
    });
  });
});
