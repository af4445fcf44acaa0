import type fs from "node:fs/promises";
import { PyroError } from "./errors.js";

/**
 * Output bounds of exec and run results (docs/long-commands-and-output.md). A result keeps the
 * head and the tail of each stream, `max_output_bytes` in all (default 16 KiB, at most 512 KiB:
 * two streams of the maximum stay far under an MCP client's 10 MiB message limit even when every
 * byte is escaped in JSON). The full output of a workspace command goes to the journal on disk,
 * up to JOURNAL_STREAM_CAP_BYTES per stream, and is read back in pages with `workspace logs`.
 */
export const DEFAULT_OUTPUT_BYTES = 16 * 1024;
export const MAX_OUTPUT_BYTES = 512 * 1024;
/** Bytes of each stream of one command kept on disk in the journal; past it only counted. */
export const JOURNAL_STREAM_CAP_BYTES = 64 * 1024 * 1024;
/** Longest a call waits for a command (exec wait_seconds, logs wait_seconds). */
export const MAX_WAIT_SECONDS = 3600;

/** The checked limits of one exec call. */
export function checkExecBounds(options: { maxOutputBytes?: number; waitSeconds?: number }): {
  resultBytes: number;
  waitMs: number | undefined;
} {
  const resultBytes = options.maxOutputBytes ?? DEFAULT_OUTPUT_BYTES;
  if (!Number.isInteger(resultBytes) || resultBytes < 0 || resultBytes > MAX_OUTPUT_BYTES) {
    throw new PyroError(
      "INVALID_ARGUMENT",
      `--max-output-bytes / max_output_bytes must be a whole number from 0 to ${MAX_OUTPUT_BYTES}, got ${String(resultBytes)}`,
      { hint: "Page the full output out of the journal with `pyro workspace logs` instead." },
    );
  }
  const wait = options.waitSeconds;
  if (wait !== undefined && (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS)) {
    throw new PyroError(
      "INVALID_ARGUMENT",
      `--wait-seconds / wait_seconds must be a whole number from 0 to ${MAX_WAIT_SECONDS}, got ${String(wait)}`,
      { hint: `Pass a value between 0 and ${MAX_WAIT_SECONDS}.` },
    );
  }
  return { resultBytes, waitMs: wait === undefined ? undefined : wait * 1000 };
}

/** The shape of one stream in a result. */
export interface StreamView {
  text: string;
  truncated: boolean;
  bytes: number;
}

/**
 * One stream of a command: counts every byte, keeps the first and the last `limit / 2` bytes in
 * memory, and (when given a file) writes the bytes to it up to a cap, awaiting each write so a
 * slow disk holds the guest back instead of growing a buffer.
 */
export class StreamRecorder {
  private head: Buffer[] = [];
  private headSize = 0;
  private tail: Buffer[] = [];
  private tailSize = 0;
  /** Every byte the command wrote to this stream. */
  bytes = 0;
  /** Bytes written to the journal file. */
  stored = 0;
  private readonly headLimit: number;
  private readonly tailLimit: number;

  constructor(
    limit: number,
    private readonly file?: fs.FileHandle,
    private readonly diskCap = JOURNAL_STREAM_CAP_BYTES,
  ) {
    this.headLimit = Math.ceil(limit / 2);
    this.tailLimit = Math.floor(limit / 2);
  }

  async push(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    let rest = chunk;
    const headRoom = this.headLimit - this.headSize;
    if (headRoom > 0) {
      const kept = rest.subarray(0, headRoom);
      this.head.push(Buffer.from(kept));
      this.headSize += kept.length;
      rest = rest.subarray(kept.length);
    }
    if (rest.length > 0 && this.tailLimit > 0) {
      const kept =
        rest.length > this.tailLimit ? rest.subarray(rest.length - this.tailLimit) : rest;
      this.tail.push(Buffer.from(kept));
      this.tailSize += kept.length;
      // Drop whole chunks from the front while the rest still covers the tail.
      while (
        this.tail.length > 1 &&
        this.tailSize - (this.tail[0]?.length ?? 0) >= this.tailLimit
      ) {
        this.tailSize -= this.tail.shift()?.length ?? 0;
      }
    }
    if (this.file && this.stored < this.diskCap) {
      const part = chunk.subarray(0, this.diskCap - this.stored);
      await this.file.write(part);
      this.stored += part.length;
    }
  }

  /** Head and tail as text; a marker line stands for the bytes between them. */
  view(): StreamView {
    const head = Buffer.concat(this.head);
    const tailAll = Buffer.concat(this.tail);
    const tail = tailAll.subarray(Math.max(0, tailAll.length - this.tailLimit));
    const kept = head.length + tail.length;
    if (kept >= this.bytes) {
      return {
        text: Buffer.concat([head, tail]).toString("utf8"),
        truncated: false,
        bytes: this.bytes,
      };
    }
    const omitted = this.bytes - kept;
    const headText = head.subarray(0, utf8Boundary(head, head.length)).toString("utf8");
    const tailText = tail.subarray(utf8Start(tail)).toString("utf8");
    return {
      text: `${headText}\n[... ${omitted} bytes omitted ...]\n${tailText}`,
      truncated: true,
      bytes: this.bytes,
    };
  }
}

/** The largest end <= `end` that does not cut a UTF-8 sequence of `buf` in two. */
export function utf8Boundary(buf: Buffer, end: number): number {
  if (end >= buf.length) return buf.length;
  let i = end;
  // Back up over continuation bytes (10xxxxxx) to the start of the sequence `end` falls in.
  while (i > 0 && i > end - 4 && ((buf[i] ?? 0) & 0xc0) === 0x80) i -= 1;
  return i > end - 4 ? i : end;
}

/** The first index of `buf` that starts a UTF-8 sequence (skips a cut-off sequence's rest). */
function utf8Start(buf: Buffer): number {
  let i = 0;
  while (i < Math.min(3, buf.length) && ((buf[i] ?? 0) & 0xc0) === 0x80) i += 1;
  return i;
}

/**
 * The result fields of both streams (exec, run, journal entries): head-and-tail text, truncated
 * flags, total byte counts.
 */
export function streamFields(output: { stdout: StreamRecorder; stderr: StreamRecorder }): {
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  stdout_bytes: number;
  stderr_bytes: number;
} {
  const out = output.stdout.view();
  const err = output.stderr.view();
  return {
    stdout: out.text,
    stderr: err.text,
    stdout_truncated: out.truncated,
    stderr_truncated: err.truncated,
    stdout_bytes: out.bytes,
    stderr_bytes: err.bytes,
  };
}
