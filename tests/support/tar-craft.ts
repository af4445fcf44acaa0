/**
 * A tiny tar writer for building hostile archives in tests (absolute paths, `..`, links that
 * escape, devices, FIFOs, sparse members, pax and GNU long-name tricks, raw non-UTF-8 bytes, bad
 * checksums): things well-behaved tar libraries refuse to create.
 */
export interface CraftEntry {
  name: string | Buffer;
  type?: "file" | "dir" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo" | "sparse";
  /** Raw typeflag, overriding `type` (e.g. "D", "V", "g"). */
  typeflag?: string;
  content?: string | Buffer;
  linkname?: string | Buffer;
  mode?: number;
  /** ustar prefix field (joined to the name with "/"). */
  prefix?: string;
  /** Emit a pax 'x' header with these records before the entry. */
  pax?: Record<string, string | Buffer>;
  /** Emit a pax global 'g' header with these records before the entry. */
  globalPax?: Record<string, string>;
  /** Emit GNU 'L' / 'K' long-name headers before the entry. */
  gnuLongName?: string | Buffer;
  gnuLongLink?: string | Buffer;
  /** Old GNU sparse member: the content is the stored chunks back to back. */
  sparse?: { realSize: number; chunks: { offset: number; length: number }[] };
  /** Size field to write instead of the content's length. */
  sizeOverride?: number;
  badChecksum?: boolean;
  /** Owner ids (default 0). */
  uid?: number;
  gid?: number;
}

const TYPEFLAG = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  blockdev: "4",
  dir: "5",
  fifo: "6",
  sparse: "S",
} as const;

const bytes = (value: string | Buffer): Buffer =>
  typeof value === "string" ? Buffer.from(value) : value;

function header(
  fields: {
    name: Buffer;
    typeflag: string;
    size: number;
    mode: number;
    linkname?: Buffer;
    prefix?: string;
    gnu?: boolean;
    sparse?: CraftEntry["sparse"];
    uid?: number;
    gid?: number;
  },
  badChecksum = false,
): Buffer {
  const h = Buffer.alloc(512);
  const put = (offset: number, length: number, value: Buffer | string) =>
    bytes(value).copy(h, offset, 0, Math.min(length, bytes(value).length));
  const octal = (offset: number, length: number, value: number) =>
    put(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  put(0, 100, fields.name);
  octal(100, 8, fields.mode);
  octal(108, 8, fields.uid ?? 0);
  octal(116, 8, fields.gid ?? 0);
  octal(124, 12, fields.size);
  octal(136, 12, 1_700_000_000);
  put(148, 8, "        ");
  put(156, 1, fields.typeflag);
  put(157, 100, fields.linkname ?? Buffer.alloc(0));
  if (fields.gnu || fields.sparse) {
    put(257, 8, "ustar  \0");
  } else {
    put(257, 6, "ustar\0");
    put(263, 2, "00");
    if (fields.prefix) put(345, 155, fields.prefix);
  }
  if (fields.sparse) {
    fields.sparse.chunks.slice(0, 4).forEach((chunk, i) => {
      octal(386 + i * 24, 12, chunk.offset);
      octal(386 + i * 24 + 12, 12, chunk.length);
    });
    octal(483, 12, fields.sparse.realSize);
  }
  let sum = 0;
  for (const byte of h) sum += byte;
  if (badChecksum) sum += 1;
  put(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

function block(head: Buffer, body: Buffer): Buffer[] {
  return [head, body, Buffer.alloc((512 - (body.length % 512)) % 512)];
}

function paxBody(records: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const core = Buffer.concat([Buffer.from(` ${key}=`), bytes(value), Buffer.from("\n")]);
    let length = core.length + 1;
    while (String(length).length + core.length !== length) length += 1;
    parts.push(Buffer.concat([Buffer.from(String(length)), core]));
  }
  return Buffer.concat(parts);
}

export function craftTar(entries: CraftEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.globalPax) {
      const body = paxBody(entry.globalPax);
      parts.push(
        ...block(
          header({
            name: Buffer.from("pax_global"),
            typeflag: "g",
            size: body.length,
            mode: 0o644,
          }),
          body,
        ),
      );
    }
    if (entry.pax) {
      const body = paxBody(entry.pax);
      parts.push(
        ...block(
          header({ name: Buffer.from("PaxHeader"), typeflag: "x", size: body.length, mode: 0o644 }),
          body,
        ),
      );
    }
    for (const [flag, value] of [
      ["L", entry.gnuLongName],
      ["K", entry.gnuLongLink],
    ] as const) {
      if (value === undefined) continue;
      const body = Buffer.concat([bytes(value), Buffer.alloc(1)]);
      parts.push(
        ...block(
          header({
            name: Buffer.from("././@LongLink"),
            typeflag: flag,
            size: body.length,
            mode: 0o644,
            gnu: true,
          }),
          body,
        ),
      );
    }
    const type = entry.type ?? "file";
    const body =
      type === "file" || type === "sparse" || entry.typeflag !== undefined
        ? bytes(entry.content ?? "")
        : Buffer.alloc(0);
    const head = header(
      {
        name: bytes(entry.name),
        typeflag: entry.typeflag ?? TYPEFLAG[type],
        size: entry.sizeOverride ?? body.length,
        mode: entry.mode ?? (type === "dir" ? 0o755 : 0o644),
        ...(entry.linkname !== undefined ? { linkname: bytes(entry.linkname) } : {}),
        ...(entry.prefix !== undefined ? { prefix: entry.prefix } : {}),
        ...(entry.sparse ? { sparse: entry.sparse } : {}),
        ...(entry.uid !== undefined ? { uid: entry.uid } : {}),
        ...(entry.gid !== undefined ? { gid: entry.gid } : {}),
      },
      entry.badChecksum,
    );
    parts.push(...block(head, body));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
