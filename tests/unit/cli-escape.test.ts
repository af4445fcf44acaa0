import { describe, expect, it } from "vitest";
import { escapeLines, escapeText } from "../../src/cli/escape.js";

/** Guest- and archive-chosen text in human output must not drive the terminal. */
describe("escaping human output", () => {
  it("escape: ESC sequences and BEL become visible \\xNN", () => {
    expect(escapeText("a\u001b[31mb\u0007c")).toBe("a\\x1b[31mb\\x07c");
  });

  it("escape: every C0 control, DEL and C1 control is escaped; nothing raw remains", () => {
    const controls = [
      ...Array.from({ length: 0x20 }, (_, i) => i),
      0x7f,
      ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
    ]
      .map((c) => String.fromCodePoint(c))
      .join("");
    const escaped = escapeText(controls);
    expect(escaped).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/u); // eslint-disable-line no-control-regex
    expect(escaped).toContain("\\x00");
    expect(escaped).toContain("\\x7f");
    expect(escaped).toContain("\\x9b"); // the one-byte CSI
    expect(escaped).toContain("\\n");
    expect(escaped).toContain("\\r");
    expect(escaped).toContain("\\t");
  });

  it("escape: bidi overrides and isolates are escaped so a name reads as it is", () => {
    expect(escapeText("invoice\u202Etxt.exe")).toBe("invoice\\u202etxt.exe");
    expect(escapeText("\u2066x\u2069\u200f")).toBe("\\u2066x\\u2069\\u200f");
  });

  it("escape: ordinary text, non-ASCII letters and emoji pass unchanged", () => {
    const text = "src/main.ts ünïcødé 日本語 😀 a b=c ~!@#$%^&*()[]{}";
    expect(escapeText(text)).toBe(text);
    expect(escapeLines(text)).toBe(text);
  });

  it("escape: multi-line text keeps newlines and tabs but not CR or ESC", () => {
    expect(escapeLines("+a\tb\n-c\r\n\u001b]0;title\u0007\n")).toBe(
      "+a\tb\n-c\\r\n\\x1b]0;title\\x07\n",
    );
  });
});
