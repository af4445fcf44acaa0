import { PyroError, toPyroError } from "../core/errors.js";
import { escapeLines, escapeText } from "./escape.js";

/** Sorted keys, two-space indent: the `--json` format of every command. */
export function formatJson(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${formatJson(value)}\n`);
}

/**
 * Print lines of human output. Each line is escaped (control characters, bidi marks) because
 * names, paths and messages in it may come from the guest or an archive; see escape.ts.
 */
export function printLines(stream: NodeJS.WritableStream, ...lines: string[]): void {
  stream.write(lines.map((line) => `${escapeText(line)}\n`).join(""));
}

/** Print stored multi-line text (a patch, logged output) escaped, keeping newlines and tabs. */
export function printBlock(stream: NodeJS.WritableStream, text: string): void {
  stream.write(escapeLines(text));
}

export const yesNo = (value: boolean): string => (value ? "yes" : "no");

/**
 * The one place CLI errors are printed. Human mode: message and hint on stderr. JSON mode:
 * `{"error": {...}}` on stdout. Either way the exit status is non-zero.
 */
export function reportError(error: unknown, json: boolean): number {
  const typed = toPyroError(error);
  if (json) {
    printJson({ error: typed.toJSON() });
  } else {
    // Messages may quote guest data (paths, names, guest errors): escaped like all human output.
    process.stderr.write(`error: ${escapeText(typed.message)}\n`);
    if (typed.hint) process.stderr.write(`hint: ${escapeText(typed.hint)}\n`);
    const tail = typed.details?.serial_log_tail;
    if (typeof tail === "string" && tail !== "") {
      process.stderr.write(`guest log (last lines):\n${escapeLines(tail)}\n`);
    }
  }
  return typed.code === "CANCELLED" ? 130 : 1;
}

/** Join argv words into one shell command, quoting where needed (like Python's shlex.join). */
export function shellJoin(words: readonly string[]): string {
  return words
    .map((word) =>
      word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)
        ? word
        : `'${word.replace(/'/g, `'"'"'`)}'`,
    )
    .join(" ");
}

/** Exit status when the reader of stdout went away: what a shell shows for SIGPIPE (128 + 13). */
export const STDOUT_CLOSED_EXIT = 141;

const stdoutClosedController = new AbortController();
/** Aborted once stdout or stderr has been closed by its reader (`pyro ... | head`). */
export const stdoutClosed: AbortSignal = stdoutClosedController.signal;

/** Commands that must clean up before exiting (e.g. `run` tears down its VM) hold one of these. */
let cleanupHolders = 0;
/** How long a holder may take to clean up after stdout closed before the CLI exits anyway. */
const CLEANUP_GRACE_MS = 20_000;

/**
 * Ask for time to clean up when stdout closes: `abort` is called and the CLI waits (up to a
 * grace period) for the command to finish instead of exiting at once. Returns the release.
 */
export function holdOnStdoutClosed(abort: () => void): () => void {
  cleanupHolders += 1;
  const onClosed = () => abort();
  if (stdoutClosed.aborted) onClosed();
  else stdoutClosed.addEventListener("abort", onClosed, { once: true });
  return () => {
    cleanupHolders -= 1;
    stdoutClosed.removeEventListener("abort", onClosed);
  };
}

/**
 * Make a closed stdout end the CLI quietly, as it ends other Unix tools: no stack trace, exit
 * status 141. Leaving at once closes the supervisor connection, which ends the remote command
 * of a running `exec`. Other write errors (a full disk behind `>`) are reported on stderr.
 */
export function watchStandardStreams(): void {
  const onClosed = () => {
    if (stdoutClosed.aborted) return;
    stdoutClosedController.abort();
    if (cleanupHolders === 0) process.exit(STDOUT_CLOSED_EXIT);
    setTimeout(() => process.exit(STDOUT_CLOSED_EXIT), CLEANUP_GRACE_MS).unref();
  };
  const isClosed = (error: Error & { code?: string }) =>
    error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED";
  process.stdout.on("error", (error: Error & { code?: string }) => {
    if (isClosed(error)) return onClosed();
    const failure = new PyroError(
      "HOST_IO_ERROR",
      `cannot write to standard output: ${error.message}`,
      { hint: "Check where stdout goes: a full disk or an unwritable file behind `>`." },
    );
    process.exit(reportError(failure, false));
  });
  // Nothing can be reported once stderr itself fails; leave with the error status.
  process.stderr.on("error", (error: Error & { code?: string }) =>
    isClosed(error) ? onClosed() : process.exit(1),
  );
}
