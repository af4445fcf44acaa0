import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, ProtocolError } from "../../src/protocol/frame.js";
import { MAX_FRAME_BYTES, MAX_HEADER_BYTES } from "../../src/protocol/messages.js";
import { REPO_ROOT } from "../support/paths.js";

const golden = (name: string) =>
  readFileSync(path.join(REPO_ROOT, "guest", "agent", "tests", "golden", name));

function prefix(frameLen: number, channel: number, headerLen: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(frameLen, 0);
  b.writeUInt32LE(channel, 4);
  b.writeUInt32LE(headerLen, 8);
  return b;
}

describe("protocol frames", () => {
  it("frames: round-trip a header and a binary payload", () => {
    const payload = Buffer.from([0, 1, 2, 255]);
    const [frame] = new FrameDecoder().push(encodeFrame(9, { type: "stdout" }, payload));
    expect(frame?.channel).toBe(9);
    expect(frame?.header).toEqual({ type: "stdout" });
    expect(frame?.payload.equals(payload)).toBe(true);
  });

  it("frames: reassemble frames split at every byte boundary", () => {
    const bytes = Buffer.concat([
      encodeFrame(1, { type: "a" }, Buffer.from("xyz")),
      encodeFrame(2, { type: "b" }),
    ]);
    const decoder = new FrameDecoder();
    const frames = [...bytes].flatMap((byte) => decoder.push(Buffer.from([byte])));
    expect(frames.map((f) => [f.channel, f.header.type, f.payload.toString()])).toEqual([
      [1, "a", "xyz"],
      [2, "b", ""],
    ]);
  });

  it("frames: decode the golden frames the C agent's tests also decode", () => {
    const [hello] = new FrameDecoder().push(golden("hello.bin"));
    expect(hello?.channel).toBe(0);
    expect(hello?.header.type).toBe("hello");
    expect(hello?.header.protocol).toBe(1);
    const [exec] = new FrameDecoder().push(golden("exec.bin"));
    expect(exec?.channel).toBe(7);
    expect(exec?.header.argv).toEqual(["/bin/sh", "-c", "echo hi"]);
    const [stdout] = new FrameDecoder().push(golden("stdout.bin"));
    expect(stdout?.header.type).toBe("stdout");
    expect(stdout?.payload.toString()).toBe("hi\n");
  });

  it("frames: rejects an oversized frame length before buffering its body", () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(prefix(MAX_FRAME_BYTES + 1, 1, 10))).toThrow(ProtocolError);
  });

  it("frames: rejects a header length beyond the limit or the frame", () => {
    expect(() => new FrameDecoder().push(prefix(100, 1, MAX_HEADER_BYTES + 1))).toThrow(
      ProtocolError,
    );
    expect(() => new FrameDecoder().push(prefix(20, 1, 50))).toThrow(ProtocolError);
  });

  it("frames: rejects headers that are not JSON objects with a type", () => {
    for (const header of ["[1,2]", "not json", '{"no":"type"}', "null"]) {
      const body = Buffer.from(header);
      const frame = Buffer.concat([prefix(8 + body.length, 1, body.length), body]);
      expect(() => new FrameDecoder().push(frame)).toThrow(ProtocolError);
    }
  });

  it("frames: refuses to encode a frame larger than the limit", () => {
    expect(() => encodeFrame(1, { type: "stdin" }, Buffer.alloc(MAX_FRAME_BYTES))).toThrow(
      ProtocolError,
    );
  });
});
