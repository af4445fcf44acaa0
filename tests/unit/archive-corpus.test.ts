import { execFileSync } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { checkTarFile, extractTarFile } from "../../src/core/workspace/archive-safety.js";
import { craftTar, type CraftEntry } from "../support/tar-craft.js";

/**
 * The hostile-archive corpus: every archive is refused by the check alone and by the extraction
 * (which must leave nothing outside its staging directory), with a stable code and a message that
 * names the problem. Seeds and sync pushes of archives both go through these two functions.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "pyro-corpus-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function write(data: Buffer, gzip = false): string {
  counter += 1;
  const file = path.join(dir, `a${counter}.${gzip ? "tgz" : "tar"}`);
  writeFileSync(file, gzip ? gzipSync(data) : data);
  return file;
}

const long = (n: number) => "n".repeat(n);
const latin1 = (s: string) => Buffer.from(s, "latin1");
const good = craftTar([
  { name: "a.txt", content: "x".repeat(2000) },
  { name: "b.txt", content: "y" },
]);

type Case = [string, Buffer, string, RegExp];
const c = (what: string, entries: CraftEntry[], code: string, message: RegExp): Case => [
  what,
  craftTar(entries),
  code,
  message,
];
const U = "UNSAFE_ARCHIVE";
const C = "ARCHIVE_CORRUPT";

const corpus: Case[] = [
  // Paths that leave the root.
  c("absolute path", [{ name: "/etc/cron.d/evil", content: "x" }], U, /absolute path/),
  c(
    "absolute path via pax",
    [{ name: "ok", pax: { path: "/etc/evil" }, content: "x" }],
    U,
    /absolute/,
  ),
  c("absolute path via GNU long name", [{ name: "ok", gnuLongName: "/etc/evil" }], U, /absolute/),
  c("absolute path hidden as /./x", [{ name: "/./x" }], U, /absolute/),
  c("dot-dot inside a path", [{ name: "src/../../escape", content: "x" }], U, /climbs out/),
  c("leading dot-dot", [{ name: "../x", content: "x" }], U, /climbs out/),
  c("dot-dot via pax path", [{ name: "harmless", pax: { path: "../../x" } }], U, /climbs out/),
  c(
    "dot-dot via GNU long name",
    [{ name: "harmless", gnuLongName: `${long(120)}/../../x` }],
    U,
    /climbs out/,
  ),
  c("dot-dot via ustar prefix", [{ name: "x", prefix: ".." }], U, /climbs out/),
  c("dot-dot a/../../b", [{ name: "a/../../b" }], U, /climbs out/),
  c("NUL inside a pax path", [{ name: "x", pax: { path: "a\0b" } }], U, /NUL/),
  c(
    "root entry that is a symlink",
    [{ name: ".", type: "symlink", linkname: "/" }],
    U,
    /root entry/,
  ),
  // Symlinks that lead out, directly or by chains.
  c(
    "symlink absolute",
    [{ name: "link", type: "symlink", linkname: "/etc/passwd" }],
    U,
    /symlink "link".*absolute/,
  ),
  c(
    "symlink relative out",
    [{ name: "a/link", type: "symlink", linkname: "../../outside" }],
    U,
    /climbs out/,
  ),
  c(
    "symlink deep out",
    [{ name: "a/b/c/l", type: "symlink", linkname: "../../../../etc/hostname" }],
    U,
    /climbs out/,
  ),
  c(
    "symlink chain up/..",
    [
      { name: "x/up", type: "symlink", linkname: ".." },
      { name: "x/up2", type: "symlink", linkname: "up/.." },
    ],
    U,
    /"x\/up2".*climbs out/,
  ),
  c(
    "symlink chain of three",
    [
      { name: "a", type: "symlink", linkname: "b" },
      { name: "b", type: "symlink", linkname: "c/.." },
      { name: "c", type: "symlink", linkname: ".." },
    ],
    U,
    /climbs out/,
  ),
  c(
    "symlink chain to an absolute link",
    [
      { name: "a", type: "symlink", linkname: "b" },
      { name: "b", type: "symlink", linkname: "/etc" },
    ],
    U,
    /absolute/,
  ),
  c(
    "symlink through dot link",
    [
      { name: "d", type: "symlink", linkname: "." },
      { name: "e", type: "symlink", linkname: "d/../" },
    ],
    U,
    /climbs out/,
  ),
  c(
    "symlink loop",
    [
      { name: "a", type: "symlink", linkname: "b" },
      { name: "b", type: "symlink", linkname: "a" },
    ],
    U,
    /loops/,
  ),
  c(
    "symlink out via pax linkpath",
    [{ name: "l", type: "symlink", linkname: "ok", pax: { linkpath: "/etc/shadow" } }],
    U,
    /absolute/,
  ),
  c(
    "symlink out via GNU long link",
    [{ name: "l", type: "symlink", linkname: "ok", gnuLongLink: `${"../".repeat(50)}etc` }],
    U,
    /climbs out/,
  ),
  c(
    "symlink with an empty target",
    [{ name: "l", type: "symlink", linkname: "" }],
    C,
    /empty target/,
  ),
  // Hard links.
  c(
    "hard link out",
    [{ name: "hard", type: "hardlink", linkname: "../etc/shadow" }],
    U,
    /climbs out/,
  ),
  c(
    "hard link absolute",
    [{ name: "hard", type: "hardlink", linkname: "/etc/shadow" }],
    U,
    /absolute/,
  ),
  c(
    "hard link to a missing member",
    [{ name: "hard", type: "hardlink", linkname: "missing" }],
    C,
    /not earlier/,
  ),
  c(
    "hard link before its target",
    [
      { name: "hard", type: "hardlink", linkname: "f" },
      { name: "f", content: "x" },
    ],
    C,
    /not earlier/,
  ),
  c(
    "hard link to a directory",
    [
      { name: "d/", type: "dir" },
      { name: "hard", type: "hardlink", linkname: "d" },
    ],
    U,
    /points to a directory/,
  ),
  c(
    "hard link to a symlink",
    [
      { name: "s", type: "symlink", linkname: "x" },
      { name: "hard", type: "hardlink", linkname: "s" },
    ],
    U,
    /points to a symlink/,
  ),
  // Writing through links and type changes.
  c(
    "member under an inside symlink",
    [
      { name: "sub/", type: "dir" },
      { name: "link", type: "symlink", linkname: "sub" },
      { name: "link/f", content: "x" },
    ],
    U,
    /lies under "link"/,
  ),
  c(
    "member under a symlink out",
    [
      { name: "l", type: "symlink", linkname: "/etc" },
      { name: "l/cron", content: "x" },
    ],
    U,
    /lies under/,
  ),
  c(
    "directory replaced by a link",
    [
      { name: "d/", type: "dir" },
      { name: "d/f", content: "x" },
      { name: "d", type: "symlink", linkname: "/etc" },
    ],
    U,
    /appears twice/,
  ),
  c(
    "file replaced by a link",
    [
      { name: "f", content: "x" },
      { name: "f", type: "symlink", linkname: "/etc/passwd" },
    ],
    U,
    /appears twice/,
  ),
  c(
    "file replaced by a directory",
    [
      { name: "f", content: "x" },
      { name: "f/", type: "dir" },
    ],
    U,
    /appears twice/,
  ),
  c(
    "implicit directory replaced by a link",
    [
      { name: "d/f", content: "x" },
      { name: "d", type: "symlink", linkname: "/tmp" },
    ],
    U,
    /appears twice/,
  ),
  c(
    "member under a file",
    [
      { name: "f", content: "x" },
      { name: "f/x", content: "y" },
    ],
    U,
    /lies under "f"/,
  ),
  // Types outside the allowlist.
  c("character device", [{ name: "dev", type: "chardev" }], U, /character device/),
  c("block device", [{ name: "disk", type: "blockdev" }], U, /block device/),
  c("FIFO", [{ name: "pipe", type: "fifo" }], U, /FIFO/),
  c("GNU dump directory", [{ name: "dump", typeflag: "D" }], U, /dump directory/),
  c("tape volume header", [{ name: "vol", typeflag: "V" }], U, /volume header/),
  c(
    "multi-volume continuation",
    [{ name: "cont", typeflag: "M", content: "x" }],
    U,
    /continuation/,
  ),
  c("old GNU long name type", [{ name: "n", typeflag: "N" }], U, /old GNU long name/),
  c("unknown type Z", [{ name: "z", typeflag: "Z" }], U, /unsupported entry/),
  c("device named /tmp/x", [{ name: "/tmp/x", type: "chardev" }], U, /absolute/),
  // Sparse members the reader cannot materialise, or that lie about themselves.
  c(
    "pax sparse 1.0",
    [{ name: "big", pax: { "GNU.sparse.major": "1", "GNU.sparse.minor": "0" }, content: "x" }],
    "ARCHIVE_UNSUPPORTED",
    /pax format/,
  ),
  c(
    "pax sparse 0.0",
    [{ name: "big", pax: { "GNU.sparse.offset": "0", "GNU.sparse.numbytes": "1" }, content: "x" }],
    "ARCHIVE_UNSUPPORTED",
    /sparse/,
  ),
  c(
    "sparse map larger than its data",
    [
      {
        name: "s",
        type: "sparse",
        content: "abc",
        sparse: { realSize: 100, chunks: [{ offset: 0, length: 10 }] },
      },
    ],
    C,
    /sparse map/,
  ),
  c(
    "sparse chunk beyond the real size",
    [
      {
        name: "s",
        type: "sparse",
        content: "abc",
        sparse: { realSize: 2, chunks: [{ offset: 0, length: 3 }] },
      },
    ],
    C,
    /sparse map/,
  ),
  c(
    "sparse chunks overlapping",
    [
      {
        name: "s",
        type: "sparse",
        content: "abcd",
        sparse: {
          realSize: 10,
          chunks: [
            { offset: 4, length: 2 },
            { offset: 5, length: 2 },
          ],
        },
      },
    ],
    C,
    /sparse map/,
  ),
  // Names the host cannot hold faithfully.
  c(
    "non-UTF-8 name",
    [{ name: latin1("caf\xe9"), content: "x" }],
    "NAME_NOT_UTF8",
    /not valid UTF-8/,
  ),
  c(
    "non-UTF-8 GNU long name",
    [{ name: "x", gnuLongName: latin1(`${long(150)}\xff`) }],
    "NAME_NOT_UTF8",
    /UTF-8/,
  ),
  c(
    "non-UTF-8 symlink target",
    [{ name: "l", type: "symlink", linkname: latin1("\xfe") }],
    "NAME_NOT_UTF8",
    /link target/,
  ),
  c("name over 255 bytes", [{ name: "x", pax: { path: long(300) } }], "PATH_TOO_LONG", /255-byte/),
  c(
    "path over 4095 bytes",
    [{ name: "x", gnuLongName: Array.from({ length: 40 }, () => long(120)).join("/") }],
    "PATH_TOO_LONG",
    /4095-byte/,
  ),
  c("empty member name", [{ name: "", content: "x" }], C, /empty name/),
  // Format damage.
  c("bad header checksum", [{ name: "a", content: "x", badChecksum: true }], C, /checksum/),
  c(
    "non-octal size",
    [
      { name: "a", content: "x", sizeOverride: 0 },
      { name: "b", typeflag: "0", content: "" },
    ],
    C,
    /checksum|end|octal|invalid/,
  ),
  c(
    "hard link out via pax linkpath",
    [
      { name: "f", content: "x" },
      { name: "h", type: "hardlink", linkname: "f", pax: { linkpath: "../../etc/shadow" } },
    ],
    U,
    /climbs out/,
  ),
];

// Raw damage that craftTar cannot express as entries.
const oversizedMeta = Buffer.concat([
  craftTar([{ name: "x", gnuLongName: "y" }], { end: false }).subarray(0, 512),
]);
oversizedMeta.write("00010000000\0", 124, "latin1"); // 2 MiB long-name header
const fixSum = (block: Buffer) => {
  block.write("        ", 148, "latin1");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
};
fixSum(oversizedMeta);
const nonOctal = fixSum(Buffer.from(good.subarray(0, 512)));
nonOctal.write("0000000zz00\0", 124, "latin1");
fixSum(nonOctal);
const paxMalformed = craftTar([{ name: "x", pax: { path: "y" } }]);
paxMalformed.write("99", 512, "latin1");
const headerOnlyPax = craftTar([{ name: "x", pax: { path: "y" } }]).subarray(0, 1024);

const raw: Case[] = [
  ["truncated inside a header", good.subarray(0, 512 + 512 * 4 + 300), C, /ends early.*inside/],
  ["truncated inside a body", good.subarray(0, 700), C, /ends early/],
  ["truncated at a member boundary", good.subarray(0, 512 + 2048), C, /no end-of-archive marker/],
  ["empty file", Buffer.alloc(0), C, /ends early|empty/],
  ["oversized GNU long-name header", oversizedMeta, C, /too large/],
  ["non-octal size field", Buffer.concat([nonOctal, Buffer.alloc(1024)]), C, /invalid size/],
  ["malformed pax record", paxMalformed, C, /malformed pax/],
  [
    "pax header followed by the end marker",
    Buffer.concat([headerOnlyPax, Buffer.alloc(1024)]),
    C,
    /extended header/,
  ],
  [
    "random bytes",
    Buffer.from("definitely not a tar archive, not even close".repeat(20)),
    C,
    /checksum|invalid/,
  ],
];

const gzipCases: [string, Buffer, string, RegExp][] = [
  [
    "corrupt gzip",
    Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.from("garbage".repeat(30))]),
    C,
    /corrupt or truncated/,
  ],
  [
    "truncated gzip (trailer cut)",
    ((g: Buffer) => g.subarray(0, g.length - 6))(
      gzipSync(craftTar([{ name: "a", content: "z".repeat(100_000) }])),
    ),
    C,
    /corrupt or truncated/,
  ],
  [
    "truncated gzip (stream cut)",
    ((g: Buffer) => g.subarray(0, g.length >> 1))(
      gzipSync(
        craftTar(
          Array.from({ length: 50 }, (_, i) => ({
            name: `f${i}`,
            content: `${i}`.repeat(3000 + i),
          })),
        ),
      ),
    ),
    C,
    /corrupt or truncated|ends early/,
  ],
];

describe("hostile archive corpus (seed and sync push checks)", () => {
  it("holds at least 60 hostile archives", () => {
    expect(corpus.length + raw.length + gzipCases.length).toBeGreaterThanOrEqual(60);
  });

  for (const [what, data, code, message] of [...corpus, ...raw]) {
    it(`refuses: ${what}`, async () => {
      const file = write(data);
      await expect(checkTarFile(file)).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
      // Extraction refuses the same way and writes nothing outside its staging directory.
      const sandbox = mkdtempSync(path.join(dir, "sandbox-"));
      const stage = path.join(sandbox, "stage");
      mkdirSync(stage);
      await expect(extractTarFile(file, stage)).rejects.toMatchObject({ code });
      expect(readdirSync(sandbox)).toEqual(["stage"]);
      const gz = write(data, true);
      await expect(checkTarFile(gz)).rejects.toMatchObject({ code });
    });
  }

  for (const [what, data, code, message] of gzipCases) {
    it(`refuses: ${what}`, async () => {
      const file = path.join(dir, `${what.replace(/ /g, "-")}.tgz`);
      writeFileSync(file, data);
      await expect(checkTarFile(file)).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
    });
  }
});

describe("archives pyro accepts are applied faithfully, minus what it never carries", () => {
  it("counts files, directories, implicit directories and links", async () => {
    const file = write(
      craftTar([
        { name: "src/", type: "dir" },
        { name: "src/a.txt", content: "hello" },
        { name: "src/link", type: "symlink", linkname: "a.txt" },
        { name: "src/hard", type: "hardlink", linkname: "src/a.txt" },
        { name: "implicit/dir/f", content: "abc" },
        { name: "x/up", type: "symlink", linkname: ".." },
        { name: "c", typeflag: "7", content: "contig" },
      ]),
    );
    await expect(checkTarFile(file)).resolves.toEqual({ entryCount: 10, bytes: 14 });
    const stage = mkdtempSync(path.join(dir, "good-"));
    await expect(extractTarFile(file, stage)).resolves.toEqual({ entryCount: 10, bytes: 14 });
    expect(readlinkSync(path.join(stage, "x/up"))).toBe("..");
    expect(statSync(path.join(stage, "src/hard")).ino).toBe(
      statSync(path.join(stage, "src/a.txt")).ino,
    );
  });

  it("drops setuid, setgid and sticky bits and keeps directories removable", async () => {
    const file = write(
      craftTar([
        { name: "locked/", type: "dir", mode: 0o7000 },
        { name: "suid", content: "#!/bin/sh\n", mode: 0o6755 },
        { name: "sticky/", type: "dir", mode: 0o1777 },
      ]),
    );
    const stage = mkdtempSync(path.join(dir, "modes-"));
    await extractTarFile(file, stage);
    expect(statSync(path.join(stage, "suid")).mode & 0o7777).toBe(0o755);
    expect(statSync(path.join(stage, "locked")).mode & 0o7777).toBe(0o700);
    expect(statSync(path.join(stage, "sticky")).mode & 0o7777).toBe(0o777);
  });

  it("a repeated file takes the later content without writing through a hard link", async () => {
    const file = write(
      craftTar([
        { name: "f", content: "one" },
        { name: "h", type: "hardlink", linkname: "f" },
        { name: "f", content: "two" },
      ]),
    );
    const stage = mkdtempSync(path.join(dir, "dup-"));
    await expect(extractTarFile(file, stage)).resolves.toEqual({ entryCount: 2, bytes: 3 });
    expect(readFileSync(path.join(stage, "f"), "utf8")).toBe("two");
    expect(readFileSync(path.join(stage, "h"), "utf8")).toBe("one");
  });

  it("ignores a pax global header's path instead of renaming every entry", async () => {
    const file = write(
      craftTar([{ name: "kept.txt", content: "k", globalPax: { path: "/etc/evil" } }]),
    );
    const stage = mkdtempSync(path.join(dir, "global-"));
    await extractTarFile(file, stage);
    expect(readdirSync(stage)).toEqual(["kept.txt"]);
  });

  it("GNU sparse archives (tar --sparse) are materialised at full size with true counts", async () => {
    const src = mkdtempSync(path.join(dir, "sparse-src-"));
    const big = path.join(src, "big");
    execFileSync("sh", [
      "-c",
      `printf head > "${big}" && truncate -s 64M "${big}" && printf tail >> "${big}"`,
    ]);
    const tgz = path.join(dir, "sparse.tgz");
    execFileSync("tar", ["--sparse", "-czf", tgz, "-C", src, "big"]);
    const expectedSize = 64 * 1024 * 1024 + 4;
    await expect(checkTarFile(tgz)).resolves.toEqual({ entryCount: 1, bytes: expectedSize });
    const stage = mkdtempSync(path.join(dir, "sparse-"));
    await expect(extractTarFile(tgz, stage)).resolves.toEqual({
      entryCount: 1,
      bytes: expectedSize,
    });
    const out = path.join(stage, "big");
    expect(lstatSync(out).size).toBe(expectedSize);
    expect(execFileSync("cmp", [big, out]).length).toBe(0);
  });

  it("GNU and pax long names from real tar round-trip", async () => {
    const src = mkdtempSync(path.join(dir, "long-src-"));
    const deep = path.join(src, long(200), long(200));
    mkdirSync(deep, { recursive: true });
    writeFileSync(path.join(deep, "f.txt"), "deep");
    for (const format of ["gnu", "posix"]) {
      const file = path.join(dir, `long-${format}.tar`);
      execFileSync("tar", [`--format=${format}`, "-cf", file, "-C", src, "."]);
      const stage = mkdtempSync(path.join(dir, `long-${format}-`));
      await expect(extractTarFile(file, stage)).resolves.toEqual({ entryCount: 3, bytes: 4 });
      expect(readFileSync(path.join(stage, long(200), long(200), "f.txt"), "utf8")).toBe("deep");
    }
  });
});
