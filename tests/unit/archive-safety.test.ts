import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
      /points outside/,
    ],
    [
      "symlink out (relative)",
      [{ name: "a/link", type: "symlink", linkname: "../../outside" }],
      /points outside/,
    ],
    [
      "hard link out",
      [{ name: "hard", type: "hardlink", linkname: "../etc/shadow" }],
      /climbs out|points outside/,
    ],
    ["device node", [{ name: "dev", type: "chardev" }], /CharacterDevice/],
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
      code: "UNSAFE_ARCHIVE",
      message: expect.stringMatching(/corrupt or truncated/),
    });
    const garbage = path.join(dir, "garbage.tgz");
    writeFileSync(garbage, Buffer.from("definitely not gzip"));
    await expect(checkTarFile(garbage)).rejects.toMatchObject({ code: "UNSAFE_ARCHIVE" });
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
      message: expect.stringMatching(/device, FIFO or socket/),
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
    for (const bad of ["../etc/passwd", "/etc", "/workspace/../etc", "/workspacex", ""]) {
      expect(() => workspaceRelative(bad, "path"), bad).toThrow(
        /outside \/workspace|empty or invalid/,
      );
    }
  });
});
