import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Ext4Reader,
  parseListings,
  prepareSandboxDir,
  ROOT_INODE,
} from "../../src/runtime/ext4-reader.js";

/**
 * The boxed ext4 reader on host-built images (mkfs.ext4 -d, no VM): listings parsed as a byte
 * sequence (a newline in a name cannot forge an entry), data and link targets read by inode, and
 * damaged images refused with DISK_UNREADABLE instead of a crash or a hang.
 */
const made: string[] = [];
/** Sandboxes sit directly in the temp dir, as pyro's do: the sandbox user must reach them. */
const temp = (prefix: string): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pyro-ext4-test-${prefix}`));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function image(files: (root: string) => void): { reader: Promise<Ext4Reader>; sandbox: string } {
  const root = temp("src-");
  files(root);
  const sandbox = temp("box-");
  const img = path.join(sandbox, "disk.raw");
  execFileSync("mkfs.ext4", ["-q", "-F", "-d", root, img, "8M"]);
  return { reader: prepareSandboxDir(sandbox).then(() => Ext4Reader.open(img, sandbox)), sandbox };
}

describe("ext4 reader", () => {
  it("ext4: a name holding a newline and a forged entry line is read as one name", async () => {
    const forged = "x\n/99/100644/0/0/evil/5/";
    // "/" cannot be in a name, so the forgery is written with what ext4 allows.
    const name = forged.replaceAll("/", "_");
    const { reader } = image((root) => writeFileSync(path.join(root, name), "data"));
    const listing = (await (await reader).list([ROOT_INODE])).get(ROOT_INODE) ?? [];
    expect(listing.map((e) => e.name).sort()).toEqual([name, "lost+found"].sort());
  });

  it("ext4: parseListings refuses output that does not start with the expected listing", () => {
    const out = Buffer.from("debugfs: ls -p <12>\n/12/040755/0/0/.//\n\n", "latin1");
    expect(() => parseListings(out, [2])).toThrow(/could not be listed/);
    expect(() => parseListings(Buffer.from("debugfs: ls -p <2>\n\n"), [2])).toThrow(
      /no "\." entry/,
    );
  });

  it("ext4: file heads, dumps and link targets come back by inode", async () => {
    const { reader: pending, sandbox } = image((root) => {
      writeFileSync(path.join(root, "a.txt"), "hello world");
      symlinkSync("a.txt", path.join(root, "fast"));
      symlinkSync("b".repeat(200), path.join(root, "slow"));
    });
    const reader = await pending;
    const entries = (await reader.list([ROOT_INODE])).get(ROOT_INODE) ?? [];
    const byName = new Map(entries.map((e) => [e.name, e]));
    const file = byName.get("a.txt");
    expect(file?.size).toBe(11);
    expect((await reader.readHead(file?.inode ?? 0, 5)).toString()).toBe("hello");
    const out = path.join(sandbox, "data");
    mkdirSync(out);
    await prepareSandboxDir(out);
    await reader.dumpFiles([file?.inode ?? 0], out, 11);
    expect(readFileSync(path.join(out, String(file?.inode))).toString()).toBe("hello world");
    const links = path.join(sandbox, "links");
    mkdirSync(links);
    await prepareSandboxDir(links);
    const targets = await reader.readLinks(
      [byName.get("fast")?.inode ?? 0, byName.get("slow")?.inode ?? 0],
      links,
    );
    expect([...targets.values()]).toEqual(["a.txt", "b".repeat(200)]);
  });

  it("ext4: a damaged image is refused with DISK_UNREADABLE, quickly", async () => {
    const sandbox = temp("bad-");
    await prepareSandboxDir(sandbox);
    const img = path.join(sandbox, "disk.raw");
    writeFileSync(img, Buffer.alloc(4 * 1024 * 1024, 0x5a));
    const started = Date.now();
    await expect(Ext4Reader.open(img, sandbox)).rejects.toMatchObject({ code: "DISK_UNREADABLE" });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
