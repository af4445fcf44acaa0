/**
 * Human output carries names and text that a guest or an archive chose (file names, command
 * lines, error messages, stored output). Printed raw, control characters in them drive the
 * user's terminal: ESC sequences recolour or rewrite lines, set the window title or hide text,
 * and bidi overrides make a name read differently than it is. These helpers make such text
 * inert and visible. `--json` output needs none of this (JSON escapes control characters), and
 * a command's live output (`exec`, `run`, `shell read`) stays the user's own bytes.
 */

// C0 controls, DEL, C1 controls, and the Unicode bidi embedding/override/isolate marks. Matching
// control characters is the point of these patterns.
/* eslint-disable no-control-regex */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const UNSAFE_KEEP_LAYOUT =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
/* eslint-enable no-control-regex */

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function visible(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.codePointAt(0) ?? 0;
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** One-line text (a name, a path, a message): every control character becomes `\xNN`, `\n`... */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, visible);
}

/** Multi-line text (a patch, stored output): like `escapeText` but newlines and tabs stay. */
export function escapeLines(text: string): string {
  return text.replace(UNSAFE_KEEP_LAYOUT, visible);
}
