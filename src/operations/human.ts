import { escapeLines, escapeText } from "../cli/escape.js";

/**
 * Human output text for the printers. Names, paths, messages and stored output in it may come
 * from the guest or an archive, so control characters and bidi marks are made visible (see
 * src/cli/escape.ts); `--json` keeps the exact text.
 */
export const lines = (...list: readonly string[]): string =>
  list.map((line) => `${escapeText(line)}\n`).join("");

/** Stored multi-line text (a patch, logged output): escaped, newlines and tabs kept. */
export const block = (text: string): string => escapeLines(text);

/** A listing of files (file list, disk list): type, mode, size, path and link target. */
export function entryListing(
  prefix: string,
  result: {
    entries: readonly {
      artifact_type: string;
      mode: string;
      size_bytes: number;
      path: string;
      link_target: string | null;
    }[];
    truncated: boolean;
    count: number;
  },
): { stdout: string; stderr?: string } {
  return {
    stdout: lines(
      ...result.entries.map(
        (e) =>
          `${e.artifact_type.padEnd(12)} ${e.mode} ${String(e.size_bytes).padStart(10)} ${e.path}${e.link_target !== null ? ` -> ${e.link_target}` : ""}`,
      ),
    ),
    ...(result.truncated
      ? { stderr: lines(`[${prefix}] truncated at ${result.count} entries`) }
      : {}),
  };
}
