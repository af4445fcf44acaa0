import type { ExecHandlers } from "../protocol/client.js";
import { checkExecBounds, StreamRecorder } from "./output-bounds.js";

/**
 * Capture a command's stdout and stderr for a result (head and tail, `maxOutputBytes` per
 * stream; see output-bounds.ts) while passing every chunk on to the caller's own handlers, as
 * `run` streams and returns its output. Memory stays bounded whatever the command prints.
 */
export function captureOutput(streams: ExecHandlers & { maxOutputBytes?: number }): {
  stdout: StreamRecorder;
  stderr: StreamRecorder;
  handlers: Required<ExecHandlers>;
} {
  const { resultBytes } = checkExecBounds({ maxOutputBytes: streams.maxOutputBytes });
  const stdout = new StreamRecorder(resultBytes);
  const stderr = new StreamRecorder(resultBytes);
  return {
    stdout,
    stderr,
    handlers: {
      // The caller's promise (a slow terminal or pipe) is passed on: it holds the guest back.
      onStdout: (chunk) => Promise.all([stdout.push(chunk), streams.onStdout?.(chunk)]),
      onStderr: (chunk) => Promise.all([stderr.push(chunk), streams.onStderr?.(chunk)]),
    },
  };
}
