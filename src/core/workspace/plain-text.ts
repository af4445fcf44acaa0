/**
 * Turn raw terminal output into what a person would read on the screen, for LLM readers of
 * `shell read --plain`: ANSI escape sequences (CSI, OSC, DCS, charset selection, ...) are removed,
 * a carriage return moves back to the start of the line so that later characters overwrite earlier
 * ones, a backspace moves one column left, and other control characters are dropped. Tabs and
 * newlines are kept; `\r\n` is a plain newline. An escape sequence cut off at the end of the input
 * is dropped. Pure: the same input always gives the same output.
 */
export function toPlainText(raw: string): string {
  const lines: string[] = [];
  let line: string[] = [];
  let col = 0;
  const put = (ch: string) => {
    if (col < line.length) line[col] = ch;
    else {
      while (line.length < col) line.push(" ");
      line.push(ch);
    }
    col += 1;
  };
  const newline = () => {
    lines.push(line.join(""));
    line = [];
    col = 0;
  };
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const ch = raw[i] as string;
    const code = ch.charCodeAt(0);
    if (ch === "\x1b" || code === 0x9b || code === 0x9d || code === 0x90) {
      i = skipEscape(raw, i);
      continue;
    }
    if (ch === "\n") {
      newline();
    } else if (ch === "\r") {
      if (raw[i + 1] === "\n") {
        newline();
        i += 1;
      } else col = 0;
    } else if (ch === "\b") {
      col = Math.max(0, col - 1);
    } else if (ch === "\t") {
      put("\t");
    } else if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0)) {
      // other C0/C1 controls (BEL, SO/SI, DEL, ...) have no visible form
    } else {
      put(ch);
    }
    i += 1;
  }
  lines.push(line.join(""));
  return lines.join("\n");
}

/** Index just past the escape sequence starting at `start` (or the end of the input). */
function skipEscape(raw: string, start: number): number {
  const n = raw.length;
  const first = raw.charCodeAt(start);
  let i: number;
  let kind: "csi" | "string" | "other";
  if (first === 0x9b) {
    kind = "csi";
    i = start + 1;
  } else if (first === 0x9d || first === 0x90) {
    kind = "string";
    i = start + 1;
  } else {
    const next = raw[start + 1];
    if (next === undefined) return n;
    if (next === "[") kind = "csi";
    else if (next === "]" || next === "P" || next === "X" || next === "^" || next === "_")
      kind = "string";
    else kind = "other";
    i = start + 2;
    if (kind === "other") {
      // ESC, any intermediate bytes (0x20-0x2f, e.g. "(" in ESC ( B), then one final byte.
      i = start + 1;
      while (i < n && raw.charCodeAt(i) >= 0x20 && raw.charCodeAt(i) <= 0x2f) i += 1;
      return Math.min(n, i + 1);
    }
  }
  if (kind === "csi") {
    // parameters and intermediates, then a final byte in 0x40-0x7e
    while (i < n) {
      const c = raw.charCodeAt(i);
      i += 1;
      if (c >= 0x40 && c <= 0x7e) return i;
      if (c < 0x20 && c !== 0x1b) continue; // controls inside a CSI are executed; ignore them
      if (c === 0x1b) return i - 1; // broken sequence: start over at the new ESC
    }
    return n;
  }
  // OSC / DCS / SOS / PM / APC: until BEL or ST (ESC \ or 0x9c)
  while (i < n) {
    const c = raw.charCodeAt(i);
    if (c === 0x07 || c === 0x9c) return i + 1;
    if (c === 0x1b && raw[i + 1] === "\\") return i + 2;
    i += 1;
  }
  return n;
}
