import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { PyroError } from "../errors.js";
import { StagedWriter } from "../archive/staged-writer.js";
import { decodeName, TarReader, type TarMember, type TarSink } from "../archive/tar-reader.js";
import { TreePolicy, type TreeCounts } from "../archive/tree-policy.js";

/**
 * Checks for every tree crossing the host/guest boundary (seeds, sync pushes, exports), built on
 * one strict tar reader and one policy (src/core/archive): an allowlist of entry types, relative
 * names, links resolved fully inside the root, and archives read to a clean end before they count.
 */
export type ArtifactType = "file" | "directory" | "symlink";
export type TreeStats = TreeCounts;
export { safeMemberPath, unsafe } from "../archive/tree-policy.js";

export const isTarArchive = (file: string): boolean => /\.(tar|tar\.gz|tgz)$/i.test(file);

/** Read a tar or tar.gz file through a sink; gzip is recognised by its magic bytes, not its name. */
export async function readTarFile(file: string, sink: TarSink): Promise<void> {
  const magic = Buffer.alloc(2);
  const handle = await fs.open(file, "r");
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(file);
  let stream: Readable = raw;
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip();
    raw.on("error", (error) => gunzip.destroy(error));
    stream = raw.pipe(gunzip);
  }
  await readTarStream(stream, sink);
}

/** Feed a byte stream to a sink, then insist on a clean end of archive. */
export async function readTarStream(stream: AsyncIterable<unknown>, sink: TarSink): Promise<void> {
  const reader = new TarReader(sink);
  try {
    for await (const chunk of stream) await reader.push(chunk as Buffer);
  } catch (error) {
    rethrowRead(error);
  }
  reader.end();
}

function rethrowRead(error: unknown): never {
  if (error instanceof PyroError) throw error;
  throw corruptArchive((error as Error).message);
}

function corruptArchive(detail: string): PyroError {
  return new PyroError("ARCHIVE_CORRUPT", `the archive is corrupt or truncated: ${detail}`, {
    hint: "Check the file, or rebuild it with `tar -czf`.",
  });
}

/** A sink that only checks: nothing is written. */
class CheckOnly implements TarSink {
  constructor(readonly policy: TreePolicy) {}
  member(member: TarMember): void {
    this.policy.add(member.path, member.kind, member.linkTarget, member.typeflag, member.realSize);
  }
  data(): void {}
  memberEnd(): void {}
}

/** Read a whole tar (or tar.gz) and check every entry; writes nothing. */
export async function checkTarFile(file: string): Promise<TreeStats> {
  const sink = new CheckOnly(new TreePolicy());
  await readTarFile(file, sink);
  return sink.policy.finish();
}

/**
 * Unpack a tar (or tar.gz) into `dir` (a private, empty staging directory) with pyro's own
 * writes. Throws on the first problem; the caller then removes `dir`, so nothing is half-applied.
 */
export async function extractTarFile(file: string, dir: string): Promise<TreeStats> {
  const writer = new StagedWriter(dir, new TreePolicy());
  try {
    await readTarFile(file, writer);
    return await writer.finish();
  } finally {
    await writer.abort();
  }
}

/**
 * Walk a host directory with lstat and check every entry by the same policy. Names are read as
 * bytes so a non-UTF-8 name is refused by name instead of failing later as an unreadable path.
 */
export async function checkHostTree(root: string): Promise<TreeStats> {
  const policy = new TreePolicy(".", "directory");
  const walk = async (dir: Buffer, rel: string): Promise<void> => {
    const names = await fs.readdir(dir, { encoding: "buffer" });
    for (const raw of names) {
      const name = decodeName(raw, `name in ${path.join(root, rel)} ("${raw.toString("latin1")}")`);
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const full = Buffer.concat([dir, Buffer.from("/"), raw]);
      const st = await fs.lstat(full);
      if (st.isDirectory()) {
        policy.add(childRel, "directory", "");
        await walk(full, childRel);
      } else if (st.isFile()) {
        policy.add(childRel, "file", "", "0", st.size);
      } else if (st.isSymbolicLink()) {
        const target = await fs.readlink(full, { encoding: "buffer" });
        policy.add(childRel, "symlink", decodeName(target, `link target of "${childRel}"`));
      } else {
        const typeflag = st.isFIFO()
          ? "6"
          : st.isCharacterDevice()
            ? "3"
            : st.isBlockDevice()
              ? "4"
              : "s";
        try {
          policy.add(childRel, "other", "", typeflag);
        } catch (error) {
          if (typeflag !== "s") throw error;
          throw new PyroError("UNSAFE_ARCHIVE", `directory member "${childRel}" is a socket`, {
            hint: "Only regular files, directories, symlinks and hard links are accepted.",
          });
        }
      }
    }
  };
  await walk(Buffer.from(root), "");
  return policy.finish();
}
