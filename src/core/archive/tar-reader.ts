import { PyroError } from "../errors.js";

/**
 * A strict streaming tar reader. pyro reads every archive that crosses the host boundary with it
 * (seeds, sync pushes, the guest's export stream) instead of node-tar's parser because the checks
 * need what node-tar hides: the raw name bytes (to refuse non-UTF-8 names rather than decode them
 * lossily), GNU sparse maps and `GNU.sparse.*` pax keys (node-tar drops both), and truncation
 * inside a header (node-tar ends quietly with the entries it has). Policy lives in the sink; the
 * reader only decodes, checks the format and refuses what is malformed.
 */
export type MemberKind = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface SparseChunk {
  offset: number;
  length: number;
}

export interface TarMember {
  /** Name as stored (after GNU long-name and pax overrides), decoded as strict UTF-8. */
  path: string;
  kind: MemberKind;
  /** The raw typeflag character, for messages about refused types. */
  typeflag: string;
  mode: number;
  /** Bytes of data that follow the header in the archive. */
  size: number;
  /** Size of the file once written: equals `size`, except for sparse members. */
  realSize: number;
  linkTarget: string;
  /** Set for GNU sparse members: where each stored chunk goes in the real file. */
  sparse?: SparseChunk[];
}

export interface TarSink {
  /** Called once per filesystem member, before its data; throw to refuse the archive. */
  member(member: TarMember): void | Promise<void>;
  /** The member's stored data, in order (for sparse members: the chunks back to back). */
  data(chunk: Buffer): void | Promise<void>;
  memberEnd(): void | Promise<void>;
}

export function corrupt(message: string): PyroError {
  return new PyroError("ARCHIVE_CORRUPT", message, {
    hint: "The archive is truncated or damaged; check the file, or rebuild it with `tar -czf`.",
  });
}

export function unsupported(message: string, hint: string): PyroError {
  return new PyroError("ARCHIVE_UNSUPPORTED", message, { hint });
}

/** Longest GNU long-name or pax header pyro reads (real ones are a few KiB at most). */
const MAX_META_BYTES = 1024 * 1024;
const BLOCK = 512;
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeName(bytes: Buffer, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new PyroError(
      "NAME_NOT_UTF8",
      `${what} is not valid UTF-8 (bytes: ${bytes.toString("hex").slice(0, 120)})`,
      {
        hint: "Rename the file to a UTF-8 name; pyro refuses names it cannot show and compare faithfully.",
      },
    );
  }
}

function cString(block: Buffer, offset: number, length: number): Buffer {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

/** Octal (or GNU base-256) numeric field; refuses anything else instead of guessing. */
function numeric(block: Buffer, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] !== undefined && (field[0] & 0x80) !== 0) {
    if (field[0] !== 0x80) throw corrupt(`negative or oversized ${what} in a tar header`);
    let value = 0;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    if (!Number.isSafeInteger(value)) throw corrupt(`oversized ${what} in a tar header`);
    return value;
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw corrupt(`invalid ${what} "${text}" in a tar header`);
  return Number.parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  const stored = numeric(block, 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i += 1) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function kindOf(typeflag: string): MemberKind {
  switch (typeflag) {
    case "0":
    case "\0":
    case "7":
    case "S":
      return "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "5":
      return "directory";
    default:
      return "other";
  }
}

/** pax records: "<len> <key>=<value>\n", lengths in bytes. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    const length = Number(data.subarray(at, space).toString("latin1"));
    if (space === -1 || !Number.isSafeInteger(length) || length <= 0 || at + length > data.length)
      throw corrupt("malformed pax extended header");
    const record = data.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals === -1 || data[at + length - 1] !== 0x0a)
      throw corrupt("malformed pax extended header");
    records.set(decodeName(record.subarray(0, equals), "a pax key"), record.subarray(equals + 1));
    at += length;
  }
  return records;
}

function sparseEntries(block: Buffer, offset: number, count: number, into: SparseChunk[]): void {
  for (let i = 0; i < count; i += 1) {
    const at = offset + i * 24;
    if (block[at] === 0) continue;
    into.push({
      offset: numeric(block, at, 12, "sparse offset"),
      length: numeric(block, at + 12, 12, "sparse length"),
    });
  }
}

type State =
  | { at: "header" }
  | { at: "sparse-extension"; header: Buffer; chunks: SparseChunk[] }
  | { at: "data"; remain: number; padding: number; forSink: boolean }
  | { at: "meta"; typeflag: string; remain: number; padding: number; parts: Buffer[] }
  | { at: "end" };

export class TarReader {
  private state: State = { at: "header" };
  private pending = Buffer.alloc(0);
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;
  private pax: Map<string, Buffer> | undefined;
  private offset = 0;

  constructor(private readonly sink: TarSink) {}

  /** Feed bytes; resolves when they are consumed (the sink's promises give backpressure). */
  async push(chunk: Buffer): Promise<void> {
    let input = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (input.length > 0) {
      const state = this.state;
      if (state.at === "end") return;
      if (state.at === "data" || state.at === "meta") {
        // A member's body, then its padding to the block: file data goes to the sink, the body
        // of a metadata member (long name, pax) is collected and applied to the next header.
        const take = Math.min(input.length, state.remain + state.padding);
        const body = input.subarray(0, Math.min(take, state.remain));
        if (body.length > 0) {
          if (state.at === "meta") state.parts.push(Buffer.from(body));
          else if (state.forSink) await this.sink.data(body);
        }
        state.remain -= body.length;
        state.padding -= take - body.length;
        input = input.subarray(take);
        this.offset += take;
        if (state.remain === 0 && state.padding === 0) {
          this.state = { at: "header" };
          if (state.at === "meta") this.applyMeta(state.typeflag, Buffer.concat(state.parts));
          else if (state.forSink) await this.sink.memberEnd();
        }
        continue;
      }
      if (input.length < BLOCK) {
        this.pending = Buffer.from(input);
        return;
      }
      const block = input.subarray(0, BLOCK);
      input = input.subarray(BLOCK);
      this.offset += BLOCK;
      if (state.at === "sparse-extension") {
        sparseEntries(block, 0, 21, state.chunks);
        if (block[504] !== 0) continue;
        await this.startMember(state.header, state.chunks);
      } else {
        await this.header(Buffer.from(block));
      }
    }
  }

  /** The stream ended: anything but a clean end-of-archive marker means it was cut short. */
  end(): void {
    if (this.state.at !== "end") {
      throw corrupt(
        `archive ends early at byte ${this.offset + this.pending.length}` +
          (this.state.at === "header" && this.pending.length === 0
            ? " (no end-of-archive marker)"
            : " (inside an entry)"),
      );
    }
  }

  private async header(block: Buffer): Promise<void> {
    if (block.every((byte) => byte === 0)) {
      if (this.longName || this.longLink || this.pax)
        throw corrupt("archive ends after an extended header, without its entry");
      this.state = { at: "end" };
      return;
    }
    if (!checksumMatches(block))
      throw corrupt(`bad tar header checksum at byte ${this.offset - BLOCK}`);
    const typeflag = String.fromCharCode(block[156] ?? 0);
    if (typeflag === "L" || typeflag === "K" || typeflag === "x" || typeflag === "g") {
      const size = numeric(block, 124, 12, "size");
      if (size > MAX_META_BYTES) throw corrupt(`extended header of ${size} bytes is too large`);
      this.state = {
        at: "meta",
        typeflag,
        remain: size,
        padding: (BLOCK - (size % BLOCK)) % BLOCK,
        parts: [],
      };
      if (size === 0) {
        this.state = { at: "header" };
        this.applyMeta(typeflag, Buffer.alloc(0));
      }
      return;
    }
    if (typeflag === "S") {
      const chunks: SparseChunk[] = [];
      sparseEntries(block, 386, 4, chunks);
      if (block[482] !== 0) {
        this.state = { at: "sparse-extension", header: block, chunks };
        return;
      }
      await this.startMember(block, chunks);
      return;
    }
    await this.startMember(block, undefined);
  }

  private applyMeta(typeflag: string, data: Buffer): void {
    if (typeflag === "L") this.longName = cString(data, 0, data.length);
    else if (typeflag === "K") this.longLink = cString(data, 0, data.length);
    else {
      const records = parsePax(data);
      for (const key of records.keys()) {
        if (key.startsWith("GNU.sparse.")) {
          throw unsupported(
            "archive holds a sparse file in pax format (GNU.sparse.* keys)",
            "Rebuild the archive without --sparse, or with `tar --format=gnu --sparse`.",
          );
        }
      }
      // Global headers would silently rename every later entry; pyro ignores them, like GNU tar.
      if (typeflag === "x") this.pax = records;
    }
  }

  private async startMember(block: Buffer, sparse: SparseChunk[] | undefined): Promise<void> {
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const ustar = block.subarray(257, 263).toString("latin1") === "ustar\0";
    let nameBytes = cString(block, 0, 100);
    const prefix = ustar ? cString(block, 345, 155) : Buffer.alloc(0);
    if (prefix.length > 0) nameBytes = Buffer.concat([prefix, Buffer.from("/"), nameBytes]);
    if (this.longName) nameBytes = this.longName;
    const paxPath = this.pax?.get("path");
    if (paxPath) nameBytes = paxPath;
    let linkBytes = this.longLink ?? cString(block, 157, 100);
    const paxLink = this.pax?.get("linkpath");
    if (paxLink) linkBytes = paxLink;
    let size = numeric(block, 124, 12, "size");
    const paxSize = this.pax?.get("size");
    if (paxSize) {
      const text = paxSize.toString("latin1");
      if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text)))
        throw corrupt(`invalid pax size "${text}"`);
      size = Number(text);
    }
    this.longName = undefined;
    this.longLink = undefined;
    this.pax = undefined;

    const path = decodeName(nameBytes, `archive member name "${nameBytes.toString("latin1")}"`);
    if (path === "") throw corrupt(`tar header at byte ${this.offset - BLOCK} has an empty name`);
    const kind = kindOf(typeflag);
    const linkTarget =
      kind === "symlink" || kind === "hardlink"
        ? decodeName(linkBytes, `link target of "${path}"`)
        : "";
    let realSize = size;
    if (sparse) {
      realSize = numeric(block, 483, 12, "sparse real size");
      checkSparseMap(path, sparse, size, realSize);
    }
    const member: TarMember = {
      path,
      kind,
      typeflag,
      mode: numeric(block, 100, 8, "mode"),
      size,
      realSize,
      linkTarget,
      ...(sparse ? { sparse } : {}),
    };
    await this.sink.member(member);
    // Only files hand their data to the sink; whatever another type declares is skipped.
    const forSink = kind === "file";
    this.state = { at: "data", remain: size, padding: (BLOCK - (size % BLOCK)) % BLOCK, forSink };
    if (size === 0) {
      this.state = { at: "header" };
      if (forSink) await this.sink.memberEnd();
    }
  }
}

function checkSparseMap(path: string, chunks: SparseChunk[], stored: number, real: number): void {
  let total = 0;
  let end = 0;
  for (const chunk of chunks) {
    if (chunk.offset < end || chunk.offset + chunk.length > real)
      throw corrupt(`sparse member "${path}" has an inconsistent sparse map`);
    end = chunk.offset + chunk.length;
    total += chunk.length;
  }
  if (total !== stored) throw corrupt(`sparse member "${path}" has an inconsistent sparse map`);
}
