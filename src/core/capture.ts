import type { ExecHandlers } from "../protocol/client.js";

/**
 * Output kept in memory per stream for a result (SDK, MCP, `--json`); past it the result says
 * `stdout_truncated`/`stderr_truncated` while the rest is still drained (and streamed, if asked).
 */
export const MAX_CAPTURED_BYTES = 16 * 1024 * 1024;

/**
 * What a result keeps per stream when the caller also streams the output (the CLI, an SDK call
 * with onStdout): the caller already has every byte, so the result only needs the journal's share.
 */
export const STREAMED_CAPTURE_BYTES = 64 * 1024;

/** Collects a stream's bytes up to a bound and remembers whether it had to drop any. */
export class BoundedCapture {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept.length < chunk.length) this.truncated = true;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/**
 * Capture a command's stdout and stderr (bounded) while passing every chunk on to the caller's
 * own handlers, as `run` and `workspace exec` both stream and return their output.
 */
export function captureOutput(streams: ExecHandlers): {
  stdout: BoundedCapture;
  stderr: BoundedCapture;
  handlers: Required<ExecHandlers>;
} {
  const limit = streams.onStdout || streams.onStderr ? STREAMED_CAPTURE_BYTES : MAX_CAPTURED_BYTES;
  const stdout = new BoundedCapture(limit);
  const stderr = new BoundedCapture(limit);
  return {
    stdout,
    stderr,
    handlers: {
      // The caller's promise (a slow terminal or pipe) is passed on: it holds the guest back.
      onStdout: (chunk) => {
        stdout.push(chunk);
        return streams.onStdout?.(chunk);
      },
      onStderr: (chunk) => {
        stderr.push(chunk);
        return streams.onStderr?.(chunk);
      },
    },
  };
}
