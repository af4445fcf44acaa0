import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkHostTree,
  checkTarFile,
  safeMemberPath,
} from "../../src/core/workspace/archive-safety.js";
import { workspaceRelative } from "../../src/core/workspace/paths-in-guest.js";
import { resolveSourcePath } from "../../src/core/workspace/seed.js";
import { openStaging, stagingRoot, sweepStaleStagings } from "../../src/core/archive/staging.js";
import { craftTar, type CraftEntry } from "../support/tar-craft.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "pyro-archives-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function archive(name: string, entries: CraftEntry[], gzip = false): string {
  const file = path.join(dir, name);
  const data = craftTar(entries);
  writeFileSync(file, gzip ? gzipSync(data) : data);
  return file;
}

describe("archive and path safety", () => {
  it("archives: accepts plain files, directories and links that stay inside", async () => {
    const file = archive(
      "good.tgz",
      [
        { name: "src/", type: "dir" },
        { name: "src/a.txt", content: "hello" },
        { name: "src/link", type: "symlink", linkname: "a.txt" },
        { name: "src/hard", type: "hardlink", linkname: "src/a.txt" },
      ],
      true,
    );
    await expect(checkTarFile(file)).resolves.toEqual({ entryCount: 4, bytes: 5 });
  });

  const hostile: [string, CraftEntry[], RegExp][] = [
    ["absolute path", [{ name: "/etc/cron.d/evil", content: "x" }], /absolute path/],
    ["dot-dot path", [{ name: "src/../../escape", content: "x" }], /climbs out/],
    [
      "symlink out (absolute)",
      [{ name: "link", type: "symlink", linkname: "/etc/passwd" }],
      /absolute and leads outside/,
    ],
    [
      "symlink out (relative)",
      [{ name: "a/link", type: "symlink", linkname: "../../outside" }],
      /climbs out/,
    ],
    [
      "hard link out",
      [{ name: "hard", type: "hardlink", linkname: "../etc/shadow" }],
      /climbs out|points outside/,
    ],
    ["device node", [{ name: "dev", type: "chardev" }], /character device/],
    ["FIFO", [{ name: "pipe", type: "fifo" }], /FIFO/],
  ];
  for (const [what, entries, message] of hostile) {
    it(`archives: rejects a member that is a ${what}`, async () => {
      await expect(checkTarFile(archive(`${what}.tar`, entries))).rejects.toMatchObject({
        code: "UNSAFE_ARCHIVE",
        message: expect.stringMatching(message),
      });
    });
  }

  it("archives: rejects a corrupt or truncated archive", async () => {
    const good = craftTar([{ name: "a.txt", content: "x".repeat(2000) }]);
    const truncated = path.join(dir, "truncated.tar");
    writeFileSync(truncated, good.subarray(0, 700));
    await expect(checkTarFile(truncated)).rejects.toMatchObject({
      code: "ARCHIVE_CORRUPT",
      message: expect.stringMatching(/ends early/),
    });
    const garbage = path.join(dir, "garbage.tgz");
    writeFileSync(garbage, Buffer.from("definitely not gzip"));
    await expect(checkTarFile(garbage)).rejects.toMatchObject({ code: "ARCHIVE_CORRUPT" });
  });

  it("trees: rejects a seed directory with a symlink leading out or a FIFO", async () => {
    const tree = path.join(dir, "tree");
    mkdirSync(path.join(tree, "sub"), { recursive: true });
    writeFileSync(path.join(tree, "sub", "ok.txt"), "ok");
    symlinkSync("ok.txt", path.join(tree, "sub", "inside"));
    await expect(checkHostTree(tree)).resolves.toEqual({ entryCount: 3, bytes: 2 });
    symlinkSync("/etc/passwd", path.join(tree, "sub", "out"));
    await expect(checkHostTree(tree)).rejects.toMatchObject({ code: "UNSAFE_ARCHIVE" });
    rmSync(path.join(tree, "sub", "out"));
    execFileSync("mkfifo", [path.join(tree, "fifo")]);
    await expect(checkHostTree(tree)).rejects.toMatchObject({
      message: expect.stringMatching(/"fifo" is a FIFO/),
    });
    rmSync(path.join(tree, "fifo"));
    // Chains resolve against the real tree: sub/up -> .. is inside, sub/up2 -> up/.. is not.
    symlinkSync("..", path.join(tree, "sub", "up"));
    await expect(checkHostTree(tree)).resolves.toMatchObject({ entryCount: 4 });
    symlinkSync("up/..", path.join(tree, "sub", "up2"));
    await expect(checkHostTree(tree)).rejects.toMatchObject({
      code: "UNSAFE_ARCHIVE",
      message: expect.stringMatching(/"sub\/up2".*climbs out/),
    });
    rmSync(path.join(tree, "sub", "up2"));
  });

  it("trees: a non-UTF-8 name is refused by name, not reported as INTERNAL", async () => {
    const tree = path.join(dir, "latin1");
    mkdirSync(tree);
    writeFileSync(Buffer.from(`${tree}/caf\xe9`, "latin1"), "x");
    await expect(checkHostTree(tree)).rejects.toMatchObject({
      code: "NAME_NOT_UTF8",
      message: expect.stringMatching(/not valid UTF-8/),
    });
  });

  it("paths: member names normalise, and escaping ones are refused", () => {
    expect(safeMemberPath("./a/b/")).toBe("a/b");
    expect(() => safeMemberPath("../x")).toThrow(/climbs out/);
    expect(() => safeMemberPath("/x")).toThrow(/absolute/);
  });

  it("paths: guest paths resolve under /workspace and nowhere else", () => {
    expect(workspaceRelative("src/a.txt", "path")).toBe("src/a.txt");
    expect(workspaceRelative("/workspace/src", "path")).toBe("src");
    expect(workspaceRelative("/workspace", "path")).toBe(".");
    expect(() => workspaceRelative("a".repeat(300), "path")).toThrow(/255-byte/);
    expect(() => workspaceRelative(Array(50).fill("b".repeat(100)).join("/"), "path")).toThrow(
      /4095-byte/,
    );
    for (const bad of ["../etc/passwd", "/etc", "/workspace/../etc", "/workspacex", ""]) {
      expect(() => workspaceRelative(bad, "path"), bad).toThrow(
        /outside \/workspace|empty or invalid/,
      );
    }
  });
});

describe("seed sources and staging", () => {
  it("an empty seed or sync source is refused in core, not read as the current directory", () => {
    for (const empty of ["", "  "]) {
      expect(() => resolveSourcePath(empty, "seed path")).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    }
    expect(resolveSourcePath(".", "seed path")).toBe(process.cwd());
  });

  it("a sweep removes stagings (and their tracked temp outputs) whose owner died", async () => {
    const paths = { cacheDir: path.join(dir, "cache"), stateDir: path.join(dir, "state") };
    const dead = execFileSync("sh", ["-c", "sh -c 'echo $$' "]).toString().trim();
    const live = await openStaging(paths, "export");
    const stale = path.join(stagingRoot(paths), "export-stale");
    mkdirSync(path.join(stale, "tree"), { recursive: true });
    const temp = path.join(dir, ".pyro-export-copy-1-dead");
    const unrelated = path.join(dir, "not-ours");
    writeFileSync(temp, "partial");
    writeFileSync(unrelated, "keep");
    writeFileSync(
      path.join(stale, "owner.json"),
      JSON.stringify({ pid: Number(dead), tracked: [temp, unrelated] }),
    );
    await sweepStaleStagings(paths);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(unrelated)).toBe(true);
    expect(existsSync(live.tree)).toBe(true);
    await live.dispose();
    expect(readdirSync(stagingRoot(paths))).toEqual([]);
  });
});
