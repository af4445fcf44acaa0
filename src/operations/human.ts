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
