import type { FileHandle } from "node:fs/promises";
import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../errors.js";
import type { SparseChunk, TarMember, TarSink } from "./tar-reader.js";
import { safeMemberPath, type TreeCounts, TreePolicy } from "./tree-policy.js";

/**
 * Writes a checked tar stream into a private staging directory with pyro's own writes: no mode
 * from the archive beyond `mode & 0o777` (never setuid, setgid or sticky; directories keep owner
 * rwx so the tree can always be removed), no owners, no devices. Symlinks are created only at the
 * end, after the whole tree passed the policy, so no write ever goes through a link.
 */
export class StagedWriter implements TarSink {
  private file: FileHandle | undefined;
  private fileMember: TarMember | undefined;
  private written = 0;
  private readonly symlinks = new Map<string, string>();
  private readonly dirModes = new Map<string, number>();
  private totalBytes = 0;

  constructor(
    private readonly dir: string,
    readonly policy: TreePolicy,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  async member(member: TarMember): Promise<void> {
    const rel = this.policy.add(
      member.path,
      member.kind,
      member.linkTarget,
      member.typeflag,
      member.realSize,
    );
    const target = path.join(this.dir, rel);
    await withPathErrors(rel, async () => {
      if (member.kind === "directory") {
        await fs.mkdir(target, { recursive: true, mode: 0o700 });
        this.dirModes.set(rel, member.mode);
      } else if (member.kind === "symlink") {
        this.symlinks.set(rel, member.linkTarget);
      } else if (member.kind === "hardlink") {
        await this.prepare(target);
        await fs.link(path.join(this.dir, safeMemberPath(member.linkTarget)), target);
      } else {
        this.totalBytes += member.realSize;
        if (this.totalBytes > this.maxBytes) {
          throw new PyroError("UNSAFE_ARCHIVE", `the tree is larger than ${this.maxBytes} bytes`, {
            hint: "Export a smaller path, or raise PYRO_MAX_EXPORT_BYTES.",
          });
        }
        await this.prepare(target);
        this.file = await fs.open(target, "wx", 0o600);
        this.fileMember = member;
        this.written = 0;
      }
    });
  }

  async data(chunk: Buffer): Promise<void> {
    const file = this.file;
    const member = this.fileMember;
    if (!file || !member) return;
    if (!member.sparse) {
      await file.write(chunk, 0, chunk.length, this.written);
      this.written += chunk.length;
      return;
    }
    let at = 0;
    while (at < chunk.length) {
      const { position, room } = sparsePosition(member.sparse, this.written);
      const take = Math.min(room, chunk.length - at);
      await file.write(chunk, at, take, position);
      at += take;
      this.written += take;
    }
  }

  async memberEnd(): Promise<void> {
    const file = this.file;
    const member = this.fileMember;
    if (!file || !member) return;
    this.file = undefined;
    this.fileMember = undefined;
    try {
      if (member.sparse) await file.truncate(member.realSize);
      await file.chmod(member.mode & 0o777);
    } finally {
      await file.close();
    }
  }

  /** The stream ended cleanly: resolve links, create them, then set directory modes. */
  async finish(): Promise<TreeCounts> {
    const counts = this.policy.finish();
    for (const [rel, target] of this.symlinks) {
      const where = path.join(this.dir, rel);
      await withPathErrors(rel, async () => {
        await fs.mkdir(path.dirname(where), { recursive: true, mode: 0o700 });
        await fs.symlink(target, where);
      });
    }
    const deepestFirst = [...this.dirModes].sort((a, b) => b[0].length - a[0].length);
    for (const [rel, mode] of deepestFirst) {
      await fs.chmod(path.join(this.dir, rel), (mode & 0o777) | 0o700);
    }
    return counts;
  }

  /** Close what is open; the caller removes the staging directory. */
  async abort(): Promise<void> {
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
  }

  private async prepare(target: string): Promise<void> {
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    // A repeated entry replaces the earlier one (as tar does) without writing through its inode.
    await fs.rm(target, { force: true });
  }
}

/** Where stored byte `stored` of a sparse member goes in the real file, and how much fits there. */
function sparsePosition(chunks: SparseChunk[], stored: number): { position: number; room: number } {
  let start = 0;
  for (const chunk of chunks) {
    if (stored < start + chunk.length) {
      return { position: chunk.offset + (stored - start), room: start + chunk.length - stored };
    }
    start += chunk.length;
  }
  throw new PyroError("ARCHIVE_CORRUPT", "sparse member holds more data than its map", {
    hint: "The archive is damaged; rebuild it.",
  });
}

/** Host-side path errors name the entry and get their own code instead of INTERNAL. */
async function withPathErrors(rel: string, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENAMETOOLONG") {
      throw new PyroError(
        "PATH_TOO_LONG",
        `"${rel.slice(0, 120)}" is too long to write on the host`,
        {
          hint: "Shorten the directory structure (Linux paths are limited to 4096 bytes).",
        },
      );
    }
    throw error;
  }
}
