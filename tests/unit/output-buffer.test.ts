import { describe, expect, it } from "vitest";
import { OutputBuffer } from "../../src/supervisor/output-buffer.js";

describe("shell output buffer", () => {
  it("buffer: reads by absolute cursor and chains next_cursor", () => {
    const b = new OutputBuffer(100);
    b.append("hello ");
    b.append("world");
    const first = b.read(0, 5);
    expect(first).toMatchObject({ output: "hello", cursor: 0, next_cursor: 5, truncated: false });
    const second = b.read(first.next_cursor, 1000);
    expect(second).toMatchObject({ output: " world", cursor: 5, next_cursor: 11, end_cursor: 11 });
    expect(b.read(11, 10)).toMatchObject({ output: "", cursor: 11, next_cursor: 11 });
    expect(b.read(500, 10)).toMatchObject({ output: "", cursor: 11, next_cursor: 11 });
  });

  it("buffer: stays bounded; a reader that fell behind learns how much it lost", () => {
    const b = new OutputBuffer(10);
    for (let i = 0; i < 10; i += 1) b.append("abc"); // 30 chars in, 10 kept
    expect(b.start).toBe(20);
    expect(b.end).toBe(30);
    const read = b.read(4, 100);
    expect(read).toMatchObject({
      output: "cabcabcabc",
      cursor: 20,
      next_cursor: 30,
      truncated: true,
      truncated_chars: 16,
    });
    expect(b.read(25, 3)).toMatchObject({ output: "bca", truncated: false, truncated_chars: 0 });
  });

  it("buffer: one append larger than the bound keeps only its end", () => {
    const b = new OutputBuffer(4);
    b.append("xy");
    b.append("0123456789");
    expect(b.read(0, 100)).toMatchObject({ output: "6789", cursor: 8, truncated_chars: 8 });
    expect(b.end).toBe(12);
  });

  it("buffer: a flood of small appends keeps memory at the bound and cursors exact", () => {
    const b = new OutputBuffer(1000);
    let total = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const chunk = `${i}\n`;
      b.append(chunk);
      total += chunk.length;
    }
    expect(b.end).toBe(total);
    expect(b.end - b.start).toBe(1000);
    const read = b.read(0, 2000);
    expect(read.output.length).toBe(1000);
    expect(read.output.endsWith("19999\n")).toBe(true);
  });

  it("buffer: a read never ends inside a surrogate pair", () => {
    const b = new OutputBuffer(100);
    b.append("a😀b");
    expect(b.read(0, 2).output).toBe("a");
    expect(b.read(0, 3).output).toBe("a😀");
  });

  it("buffer: tailLines gives the last N lines, or all", () => {
    const b = new OutputBuffer(1000);
    b.append("one\ntwo\nthree\n");
    expect(b.tailLines(2)).toEqual({ text: "two\nthree\n", truncated: true });
    expect(b.tailLines(3)).toEqual({ text: "one\ntwo\nthree\n", truncated: false });
    expect(b.tailLines(10)).toEqual({ text: "one\ntwo\nthree\n", truncated: false });
    expect(b.tailLines(undefined)).toEqual({ text: "one\ntwo\nthree\n", truncated: false });
    b.append("partial");
    expect(b.tailLines(1)).toEqual({ text: "partial", truncated: true });
    expect(b.tailLines(0)).toEqual({ text: "", truncated: true });
    expect(new OutputBuffer(10).tailLines(5)).toEqual({ text: "", truncated: false });
  });
});
