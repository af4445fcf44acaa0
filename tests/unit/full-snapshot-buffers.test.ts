import { describe, expect, it } from "vitest";
import { OutputBuffer } from "../../src/supervisor/output-buffer.js";

describe("full snapshots keep shell and service output with its cursors", () => {
  it("a restored buffer reads the same text at the same absolute cursors", () => {
    const buffer = new OutputBuffer(10);
    buffer.append("0123456789abcdef"); // the first 6 characters are dropped
    const saved = buffer.save();
    expect(saved).toEqual({ start: 6, text: "6789abcdef" });
    const restored = OutputBuffer.restore(10, JSON.parse(JSON.stringify(saved)) as typeof saved);
    expect(restored.read(0, 100)).toEqual(buffer.read(0, 100));
    expect(restored.read(8, 3)).toMatchObject({ output: "89a", cursor: 8, next_cursor: 11 });
    restored.append("XY");
    expect(restored.end).toBe(18);
    expect(restored.read(16, 10).output).toBe("XY");
  });

  it("a hostile start cursor is clamped, never negative", () => {
    const restored = OutputBuffer.restore(10, { start: -5.5, text: "abc" });
    expect(restored.start).toBe(0);
    expect(restored.read(0, 10).output).toBe("abc");
  });
});
