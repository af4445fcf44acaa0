import { mkdtempSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkExecBounds, StreamRecorder, utf8Boundary } from "../../src/core/output-bounds.js";

/** The head-and-tail bound of exec and run results, and the journal file behind it. */
describe("output bounds", () => {
  it("bounds: output under the limit is returned whole, not marked truncated", async () => {
    const recorder = new StreamRecorder(16);
    for (const part of ["abc", "def", "ghij"]) await recorder.push(Buffer.from(part));
    expect(recorder.view()).toEqual({ text: "abcdefghij", truncated: false, bytes: 10 });
  });

  it("bounds: many small chunks keep exactly the first and last halves", async () => {
    const recorder = new StreamRecorder(8);
    const all = Array.from({ length: 500 }, (_, i) => `${i},`).join("");
    for (const c of all) await recorder.push(Buffer.from(c));
    const view = recorder.view();
    expect(view.bytes).toBe(all.length);
    expect(view.truncated).toBe(true);
    expect(view.text).toBe(
      `${all.slice(0, 4)}\n[... ${all.length - 8} bytes omitted ...]\n${all.slice(-4)}`,
    );
  });

  it("bounds: a cut never splits a UTF-8 character into replacement characters", async () => {
    const recorder = new StreamRecorder(7);
    await recorder.push(Buffer.from("ééééééééé")); // 18 bytes, 2 each
    const view = recorder.view();
    expect(view.text).not.toContain("\ufffd");
    expect(view.text).toMatch(/^é+\n\[\.\.\. \d+ bytes omitted \.\.\.\]\né+$/);
    const buf = Buffer.from("aé");
    expect(utf8Boundary(buf, 2)).toBe(1);
    expect(utf8Boundary(buf, 3)).toBe(3);
  });

  it("bounds: the journal file gets every byte up to its cap, then bytes are only counted", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "pyro-bounds-"));
    const file = path.join(dir, "out");
    const handle = await fs.open(file, "w");
    const recorder = new StreamRecorder(4, handle, 10);
    for (let i = 0; i < 4; i += 1) await recorder.push(Buffer.from("0123"));
    await handle.close();
    expect(readFileSync(file, "utf8")).toBe("0123012301");
    expect(recorder.stored).toBe(10);
    expect(recorder.view().bytes).toBe(16);
  });

  it("bounds: out-of-range sizes and waits are INVALID_ARGUMENT naming the field", () => {
    expect(() => checkExecBounds({ maxOutputBytes: 10 * 1024 * 1024 })).toThrow(/max_output_bytes/);
    expect(() => checkExecBounds({ waitSeconds: -1 })).toThrow(/wait_seconds/);
    expect(checkExecBounds({})).toEqual({ resultBytes: 16384, waitMs: undefined });
  });
});
