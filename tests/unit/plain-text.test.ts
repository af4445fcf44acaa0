import { describe, expect, it } from "vitest";
import { toPlainText } from "../../src/core/workspace/plain-text.js";

describe("plain text filter", () => {
  it("plain: strips colour (SGR) and other CSI sequences", () => {
    expect(toPlainText("\x1b[31mred\x1b[0m\r\n")).toBe("red\n");
    expect(toPlainText("\x1b[1;38;5;208mbold\x1b[m \x1b[2K\x1b[?2004hok")).toBe("bold ok");
  });

  it("plain: strips OSC titles (BEL and ST terminated), charset and keypad escapes", () => {
    expect(toPlainText("\x1b]0;root@pyro: /workspace\x07$ ls")).toBe("$ ls");
    expect(toPlainText("\x1b]2;title\x1b\\after")).toBe("after");
    expect(toPlainText("\x1b(Babc\x1b=\x1b>")).toBe("abc");
    expect(toPlainText("\x1bPdevice control\x1b\\x")).toBe("x");
  });

  it("plain: a carriage return rewrites the line from its start", () => {
    expect(toPlainText("progress 10%\rprogress 100%\n")).toBe("progress 100%\n");
    expect(toPlainText("abcdef\rXY")).toBe("XYcdef");
    expect(toPlainText("one\r\ntwo\r\n")).toBe("one\ntwo\n");
  });

  it("plain: backspace moves left and the next character overwrites", () => {
    expect(toPlainText("abc\b\bXY")).toBe("aXY");
    expect(toPlainText("\b\bx")).toBe("x");
    expect(toPlainText("ab\b")).toBe("ab");
  });

  it("plain: drops other controls, keeps tabs and unicode", () => {
    expect(toPlainText("a\x07b\x00c\x0fd\te é ✓ 😀")).toBe("abcd\te é ✓ 😀");
  });

  it("plain: a sequence cut off at the end is dropped, never shown half", () => {
    expect(toPlainText("done\x1b[3")).toBe("done");
    expect(toPlainText("done\x1b")).toBe("done");
    expect(toPlainText("done\x1b]0;unterminated title")).toBe("done");
  });

  it("plain: a typical bash prompt round trip reads as on screen", () => {
    const raw =
      "\x1b[?2004hroot@pyro:/workspace# echo hi\r\n\x1b[?2004l\rhi\r\n\x1b[?2004hroot@pyro:/workspace# ";
    expect(toPlainText(raw)).toBe("root@pyro:/workspace# echo hi\nhi\nroot@pyro:/workspace# ");
  });
});
