import { toPyroError } from "../core/errors.js";

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
    process.stderr.write(`error: ${typed.message}\n`);
    if (typed.hint) process.stderr.write(`hint: ${typed.hint}\n`);
    const tail = typed.details?.serial_log_tail;
    if (typeof tail === "string" && tail !== "") {
      process.stderr.write(`guest log (last lines):\n${tail}\n`);
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
