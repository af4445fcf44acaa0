/**
 * A tiny ustar writer for building hostile archives in tests (absolute paths, `..`, links that
 * escape, devices, FIFOs): things well-behaved tar libraries refuse to create.
 */
export interface CraftEntry {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "chardev" | "fifo";
  content?: string;
  linkname?: string;
}

const TYPEFLAG = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  dir: "5",
  fifo: "6",
} as const;

function header(entry: CraftEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (offset: number, length: number, value: string) =>
    h.write(value.slice(0, length), offset, "latin1");
  const octal = (offset: number, length: number, value: number) =>
    put(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  put(0, 100, entry.name);
  octal(100, 8, entry.type === "dir" ? 0o755 : 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 1_700_000_000);
  h.write("        ", 148, "latin1");
  put(156, 1, TYPEFLAG[entry.type ?? "file"]);
  put(157, 100, entry.linkname ?? "");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  let sum = 0;
  for (const byte of h) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

export function craftTar(entries: CraftEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(
      entry.type === undefined || entry.type === "file" ? (entry.content ?? "") : "",
    );
    parts.push(header(entry, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
