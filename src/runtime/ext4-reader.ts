import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../core/errors.js";
import { decodeName } from "../core/archive/tar-reader.js";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A UTF-8 name as is; any other keeps its bytes and shows them escaped. */
function nameOf(bytes: Buffer): { name: string; rawName?: Buffer } {
  try {
    return { name: strictUtf8.decode(bytes) };
  } catch {
    const shown = [...bytes]
      .map((b) =>
        b >= 0x20 && b < 0x7f && b !== 0x5c
          ? String.fromCharCode(b)
          : `\\x${b.toString(16).padStart(2, "0")}`,
      )
      .join("");
    return { name: shown, rawName: bytes };
  }
}
import { requireTool } from "./host-tools.js";

/**
 * Reads an ext4 image the guest wrote, in user space, without mounting it: e2fsprogs' debugfs in
 * catastrophic mode (`-c`: no bitmaps, read-only). The image's metadata is hostile, and debugfs is
 * a C parser of it, so every run is boxed: a deadline (SIGKILL of its process group), a cap on
 * what it prints, rlimits (file size, address space, open files, no core), a throwaway directory
 * as its only writable place, and, when pyro runs as root, the `nobody` user with no supplementary
 * groups and no_new_privs. Paths never reach debugfs: everything is addressed by inode number
 * (`<N>`), and what it writes is named by inode in the throwaway directory, so a guest name can
 * never steer a host write. Callers check every entry with the export policy before using it.
 */
export interface Ext4Entry {
  /** The name as UTF-8, with any invalid byte shown as \xNN (for display and lookups). */
  name: string;
  /** Set when the name is not valid UTF-8; export refuses such names, as a live export does. */
  rawName?: Buffer;
  inode: number;
  /** st_mode, type bits included. */
  mode: number;
  /** Bytes (0 for directories). */
  size: number;
}

export const ROOT_INODE = 2;
const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const fileType = (mode: number): number => mode & S_IFMT;

const RUN_DEADLINE_MS = Number(process.env.PYRO_DISK_TOOL_DEADLINE_MS ?? 60_000);
const MAX_LISTING_BYTES = 64 * 1024 * 1024;
const ADDRESS_SPACE_BYTES = 2 * 1024 ** 3;
/** Directories listed by one debugfs run. */
const LIST_BATCH = 256;
const NOBODY = 65534;

export function diskUnreadable(message: string): PyroError {
  return new PyroError("DISK_UNREADABLE", message, {
    hint: "The workspace disk is damaged or not ext4; reset the workspace to a snapshot (`pyro workspace reset ID --snapshot NAME`), or delete it.",
  });
}

/** The throwaway directory a reader works in; owned by the sandbox user. */
export async function prepareSandboxDir(dir: string): Promise<void> {
  await fs.chmod(dir, 0o700);
  if (process.getuid?.() === 0) await fs.chown(dir, NOBODY, NOBODY);
}

interface RunOptions {
  /** Stop reading (and kill debugfs) after this many stdout bytes. */
  maxStdout: number;
  /** Largest file debugfs may write (RLIMIT_FSIZE). */
  maxFileBytes?: number;
  /** When the cap is reached: fail (listings) or return what arrived (reads of a file's head). */
  onOverflow: "fail" | "truncate";
}

export class Ext4Reader {
  private constructor(
    private readonly image: string,
    private readonly dir: string,
  ) {}

  /** `image` is a raw ext4 file inside `dir`, a directory made with prepareSandboxDir. */
  static async open(image: string, dir: string): Promise<Ext4Reader> {
    if (process.getuid?.() === 0) await fs.chown(image, NOBODY, NOBODY);
    await fs.chmod(image, 0o600);
    await replayJournal(image, dir);
    await fs.chmod(image, 0o400);
    const reader = new Ext4Reader(image, dir);
    await reader.list([ROOT_INODE]);
    return reader;
  }

  /** The entries of each directory inode, without "." and "..". */
  async list(dirs: number[]): Promise<Map<number, Ext4Entry[]>> {
    const result = new Map<number, Ext4Entry[]>();
    for (let at = 0; at < dirs.length; at += LIST_BATCH) {
      const batch = dirs.slice(at, at + LIST_BATCH);
      const out = await this.run(
        batch.map((ino) => `ls -p <${ino}>`),
        { maxStdout: MAX_LISTING_BYTES, onOverflow: "fail" },
      );
      for (const [ino, entries] of parseListings(out, batch)) result.set(ino, entries);
    }
    return result;
  }

  /** The first `maxBytes` bytes of a regular file's data. */
  async readHead(inode: number, maxBytes: number): Promise<Buffer> {
    // -R runs one request without echoing it, so stdout is the file's bytes alone.
    return boxedDebugfs(["-R", `cat <${inode}>`], this.image, this.dir, {
      maxStdout: maxBytes,
      onOverflow: "truncate",
    });
  }

  /** Write each regular file's data to `<outDir>/<inode>`; returns the paths by inode. */
  async dumpFiles(inodes: number[], outDir: string, maxFileBytes: number): Promise<void> {
    for (let at = 0; at < inodes.length; at += LIST_BATCH) {
      const batch = inodes.slice(at, at + LIST_BATCH);
      await this.run(
        batch.map((ino) => `dump <${ino}> ${path.join(outDir, String(ino))}`),
        { maxStdout: MAX_LISTING_BYTES, maxFileBytes: maxFileBytes + 1, onOverflow: "fail" },
      );
    }
  }

  /** Symlink targets by inode: debugfs recreates each link in `outDir`; pyro only reads it back. */
  async readLinks(inodes: number[], outDir: string): Promise<Map<number, string>> {
    const targets = new Map<number, string>();
    for (let at = 0; at < inodes.length; at += LIST_BATCH) {
      const batch = inodes.slice(at, at + LIST_BATCH);
      await this.run(
        batch.map((ino) => `rdump <${ino}> ${outDir}`),
        { maxStdout: MAX_LISTING_BYTES, onOverflow: "fail" },
      );
      for (const ino of batch) {
        const bytes = await fs
          .readlink(path.join(outDir, `<${ino}>`), { encoding: "buffer" })
          .catch(() => {
            throw diskUnreadable(`symlink inode ${ino} could not be read from the disk`);
          });
        targets.set(ino, decodeName(bytes, `link target of inode ${ino}`));
      }
    }
    return targets;
  }

  /** One boxed debugfs run over a command file; stdout comes back bounded. */
  private async run(commands: string[], options: RunOptions): Promise<Buffer> {
    const commandFile = path.join(this.dir, `cmd-${process.pid}-${Date.now()}`);
    await fs.writeFile(commandFile, `${commands.join("\n")}\n`, { mode: 0o644 });
    try {
      return await boxedDebugfs(["-f", commandFile], this.image, this.dir, options);
    } finally {
      await fs.rm(commandFile, { force: true });
    }
  }
}

function sandboxArgv(inner: string[], maxFileBytes: number | undefined): [string, string[]] {
  const limits = [
    `--as=${ADDRESS_SPACE_BYTES}`,
    "--nofile=64",
    "--core=0",
    `--fsize=${maxFileBytes ?? 0}`,
  ];
  const prlimit = requireTool("prlimit");
  const drop =
    process.getuid?.() === 0
      ? [
          requireTool("setpriv"),
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          "--clear-groups",
          "--no-new-privs",
          "--pdeathsig=KILL",
          "--",
        ]
      : [];
  return [prlimit, [...limits, "--", ...drop, ...inner]];
}

/**
 * A workspace whose VM died has committed but not yet checkpointed metadata in its ext4 journal
 * (a `sync` puts it there); the kernel would replay it at mount. e2fsck replays it, and only it,
 * on the private copy, boxed like debugfs. A copy e2fsck cannot even open is refused here.
 */
async function replayJournal(image: string, cwd: string): Promise<void> {
  const e2fsck = [requireTool("e2fsck"), "-E", "journal_only", "-y", image];
  // e2fsck writes the replayed blocks into the image itself, which is at most its own size.
  const { size } = await fs.stat(image);
  const { code, stderr } = await boxed(e2fsck, cwd, {
    maxStdout: 1024 * 1024,
    maxFileBytes: size,
    onOverflow: "fail",
  });
  // 0: clean, 1: replayed, 2: replayed (would reboot), 4: errors left (reading may still work).
  if (code !== null && code <= 4) return;
  const last = stderr.trim().split("\n").pop() ?? "";
  throw diskUnreadable(
    `the disk is not a readable ext4 filesystem${last ? ` (${last.slice(0, 200)})` : ""}`,
  );
}

async function boxedDebugfs(
  request: string[],
  image: string,
  cwd: string,
  options: RunOptions,
): Promise<Buffer> {
  const { code, signal, stdout, stderr } = await boxed(
    [requireTool("debugfs"), "-c", ...request, image],
    cwd,
    options,
  );
  if (code === 0 || (options.onOverflow === "truncate" && signal === "SIGKILL")) return stdout;
  const last = stderr.trim().split("\n").pop() ?? "";
  throw diskUnreadable(
    `debugfs stopped (${signal ?? `exit ${String(code)}`})${last ? `: ${last.slice(0, 300)}` : ""}`,
  );
}

interface BoxedResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Run one e2fsprogs tool in the box; stdout is bounded, the deadline kills its process group. */
function boxed(inner: string[], cwd: string, options: RunOptions): Promise<BoxedResult> {
  const [command, argv] = sandboxArgv(inner, options.maxFileBytes);
  return new Promise<BoxedResult>((resolve, reject) => {
    const child = spawn(command, argv, {
      cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" },
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = "";
    let settled = false;
    let overflow = false;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      killGroup();
      finish(
        diskUnreadable(`reading the disk took longer than ${RUN_DEADLINE_MS} ms and was stopped`),
      );
    }, RUN_DEADLINE_MS);
    const finish = (
      error?: PyroError,
      code: number | null = null,
      signal: NodeJS.Signals | null = null,
    ) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve({ code, signal, stdout: Buffer.concat(chunks, size), stderr });
    };
    child.stdout.on("data", (chunk: Buffer) => {
      if (overflow) return;
      const room = options.maxStdout - size;
      if (chunk.length >= room && options.onOverflow === "truncate") {
        chunks.push(chunk.subarray(0, room));
        size += room;
        overflow = true;
        killGroup();
        finish(undefined, null, "SIGKILL");
        return;
      }
      if (chunk.length > room) {
        overflow = true;
        killGroup();
        finish(diskUnreadable(`the disk listing exceeds ${options.maxStdout} bytes`));
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("latin1")).slice(-4000);
    });
    child.once("error", (error) => {
      killGroup();
      finish(diskUnreadable(`cannot run ${path.basename(inner[0] ?? "")}: ${error.message}`));
    });
    child.once("close", (code, signal) => finish(undefined, code, signal));
  });
}

/**
 * Parse the output of `ls -p <N>` runs. Each entry is `/ino/mode/uid/gid/name/size/` then a
 * newline; names may hold any byte but "/" (newlines included), so the text is read as a
 * sequence, never split on lines. Each listing starts with the `debugfs: ls -p <N>` echo and
 * must hold "." pointing at N: anything else means damaged metadata and is refused.
 */
export function parseListings(out: Buffer, dirs: number[]): Map<number, Ext4Entry[]> {
  const text = out.toString("latin1");
  const entry = /\/(\d+)\/([0-7]{1,7})\/\d+\/\d+\/([^/]*)\/(\d*)\/\n/y;
  const header = /debugfs: ls -p <(\d+)>\n/y;
  const result = new Map<number, Ext4Entry[]>();
  let at = 0;
  for (const dir of dirs) {
    header.lastIndex = at;
    const head = header.exec(text);
    if (!head || Number(head[1]) !== dir) {
      throw diskUnreadable(`directory inode ${dir} could not be listed`);
    }
    at = header.lastIndex;
    const entries: Ext4Entry[] = [];
    let self = false;
    for (;;) {
      entry.lastIndex = at;
      const m = entry.exec(text);
      if (!m) break;
      at = entry.lastIndex;
      const [ino, mode, rawName, size] = [
        Number(m[1]),
        parseInt(m[2] as string, 8),
        m[3] as string,
        m[4] as string,
      ];
      if (rawName === ".") {
        self = ino === dir;
        continue;
      }
      if (rawName === ".." || rawName === "") continue;
      entries.push({
        ...nameOf(Buffer.from(rawName, "latin1")),
        inode: ino,
        mode,
        size: size === "" ? 0 : Number(size),
      });
    }
    // debugfs ends each listing with an empty line.
    if (text.startsWith("\n", at)) at += 1;
    if (!self) throw diskUnreadable(`directory inode ${dir} is damaged (no "." entry)`);
    result.set(dir, entries);
  }
  return result;
}
