import fs from "node:fs";
import { Duplex } from "node:stream";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { greet, guestSetup } from "../../src/protocol/client.js";
import { encodeFrame, FrameDecoder, type Frame } from "../../src/protocol/frame.js";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.js";
import { stateFileUsable } from "../../src/runtime/qemu/saved-state.js";

/** A fake agent on the other end of an in-memory duplex pair: answers hello, then `reply`. */
function fakeAgent(reply: (setup: Frame) => Buffer[]): { host: Duplex; seen: Frame[] } {
  const seen: Frame[] = [];
  const decoder = new FrameDecoder();
  const hostRef: { host?: Duplex } = {};
  const agent = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      for (const frame of decoder.push(chunk)) {
        seen.push(frame);
        if (frame.header.type === "hello") {
          // Two answers, as when the host's hello was repeated.
          for (let i = 0; i < 2; i++) {
            (hostRef.host as Duplex).push(
              encodeFrame(0, {
                type: "hello",
                protocol: PROTOCOL_VERSION,
                agent_version: "t",
                capabilities: ["setup"],
              }),
            );
          }
        } else if (frame.header.type === "setup") {
          for (const out of reply(frame)) (hostRef.host as Duplex).push(out);
        }
      }
      done();
    },
  });
  const host = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      agent.write(chunk);
      done();
    },
  });
  hostRef.host = host;
  return { host, seen };
}

describe("guest setup after a restore", () => {
  it("setup: sends fresh entropy, the clock and the mounts; skips repeated hellos", async () => {
    const { host, seen } = fakeAgent(() => [encodeFrame(0, { type: "setup_done" })]);
    await greet(host, 1000);
    const before = Date.now();
    await guestSetup(
      host,
      {
        timeMs: Date.now(),
        entropy: Buffer.alloc(64, 7),
        mounts: [{ serial: "pyro-workspace", target: "/workspace", read_only: false }],
      },
      1000,
    );
    const setup = seen.find((f) => f.header.type === "setup") as Frame;
    expect(setup.payload.length).toBe(64);
    expect(Math.abs(Number(setup.header.time_ms) - before)).toBeLessThan(1000);
    expect(setup.header.mounts).toEqual([
      { serial: "pyro-workspace", target: "/workspace", read_only: false },
    ]);
  });

  it("setup: an agent that refuses is a typed boot failure, not a hang", async () => {
    const { host } = fakeAgent(() => [
      encodeFrame(0, { type: "error", code: "SETUP_FAILED", message: "cannot mount /workspace" }),
    ]);
    await greet(host, 1000);
    await expect(guestSetup(host, { entropy: Buffer.alloc(32) }, 1000)).rejects.toMatchObject({
      code: "VM_BOOT_FAILED",
      message: expect.stringContaining("cannot mount /workspace") as string,
    });
  });

  it("setup: an agent that never answers hits the host-side deadline", async () => {
    const { host } = fakeAgent(() => []);
    await greet(host, 1000);
    await expect(guestSetup(host, { entropy: Buffer.alloc(32) }, 200)).rejects.toMatchObject({
      code: "VM_BOOT_TIMEOUT",
    });
  });
});

describe("saved state file check", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyro-state-"));
  const file = path.join(dir, "state");
  const header = Buffer.from([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3]);

  it("state: QEMU's header and the recorded size pass", async () => {
    fs.writeFileSync(file, Buffer.concat([header, Buffer.alloc(100)]));
    expect(await stateFileUsable(file, 108)).toBeNull();
  });

  it("state: truncated, foreign or missing files are refused with the reason", async () => {
    fs.writeFileSync(file, Buffer.concat([header, Buffer.alloc(50)]));
    expect(await stateFileUsable(file, 108)).toMatch(/58 bytes, 108 were written/);
    fs.writeFileSync(file, Buffer.alloc(108));
    expect(await stateFileUsable(file, 108)).toMatch(/header/);
    expect(await stateFileUsable(path.join(dir, "none"), 108)).toMatch(/missing/);
  });
});
