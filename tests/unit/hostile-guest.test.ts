import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StreamRecorder } from "../../src/core/output-bounds.js";
import { Duplex } from "node:stream";
import { AgentConnection, greet, type AgentConnectionOptions } from "../../src/protocol/client.js";
import { encodeFrame, FrameDecoder, type Frame } from "../../src/protocol/frame.js";
import {
  DEFAULT_WINDOW_BYTES,
  MAX_CHUNK_BYTES,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
} from "../../src/protocol/messages.js";
import { Multiplexer } from "../../src/supervisor/mux.js";
import { ownExec } from "../../src/supervisor/agent-exec.js";

/**
 * A guest that lies: the peer here plays a compromised agent (something a real guest can do once
 * its root is owned), and the host must fail cleanly with a typed error and bounded memory.
 */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function hostileGuest(
  behave: (socket: net.Socket) => void,
  options: AgentConnectionOptions = {},
  hello: Record<string, unknown> = { type: "hello", protocol: PROTOCOL_VERSION },
): Promise<AgentConnection> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pyro-hostile-"));
  const socketPath = path.join(dir, "agent.sock");
  const server = net.createServer((socket) => {
    // Answer the hello honestly, then misbehave once the host sends its request.
    socket.once("data", () => {
      socket.write(encodeFrame(0, { ...hello, agent_version: "evil" }));
      socket.once("data", () => behave(socket));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const [connection] = await AgentConnection.open(net.connect(socketPath), 5000, options);
  cleanups.push(() => connection.close());
  return connection;
}

function rawPrefix(frameLen: number, channel: number, headerLen: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(frameLen, 0);
  b.writeUInt32LE(channel, 4);
  b.writeUInt32LE(headerLen, 8);
  return b;
}

describe("host against a hostile guest", () => {
  it("hostile guest: rejects a frame claiming 4 GiB without allocating it", async () => {
    const agent = await hostileGuest((socket) => socket.write(rawPrefix(0xffffffff, 1, 10)));
    const run = agent.exec({ argv: ["true"] });
    await expect(run.result).rejects.toMatchObject({ code: "PROTOCOL_ERROR" });
    expect(agent.closed).toBe(true);
  });

  it("hostile guest: rejects a malformed header", async () => {
    const body = Buffer.from("{not json");
    const agent = await hostileGuest((socket) =>
      socket.write(Buffer.concat([rawPrefix(8 + body.length, 1, body.length), body])),
    );
    await expect(agent.exec({ argv: ["true"] }).result).rejects.toMatchObject({
      code: "PROTOCOL_ERROR",
    });
  });

  it("hostile guest: rejects frames on channels the host never opened", async () => {
    const agent = await hostileGuest((socket) =>
      socket.write(encodeFrame(999, { type: "stdout" }, Buffer.from("injected"))),
    );
    await expect(agent.exec({ argv: ["true"] }).result).rejects.toMatchObject({
      code: "PROTOCOL_ERROR",
    });
  });

  it("hostile guest: rejects an exit frame with an impossible exit code", async () => {
    const agent = await hostileGuest((socket) =>
      socket.write(encodeFrame(1, { type: "exit", exit_code: -5 })),
    );
    await expect(agent.exec({ argv: ["true"] }).result).rejects.toMatchObject({
      code: "PROTOCOL_ERROR",
    });
  });

  it("hostile guest: a connection that drops mid-command fails the command, not the host", async () => {
    const agent = await hostileGuest((socket) => socket.destroy());
    await expect(agent.exec({ argv: ["true"] }).result).rejects.toMatchObject({
      code: "VM_CRASHED",
    });
  });

  it("hostile guest: a flood of output is kept only up to the capture bound", async () => {
    const capture = new StreamRecorder(1024);
    for (let i = 0; i < 10_000; i += 1) await capture.push(Buffer.alloc(4096, 0x61));
    const view = capture.view();
    expect(view.text).toBe(
      `${"a".repeat(512)}\n[... ${40_960_000 - 1024} bytes omitted ...]\n${"a".repeat(512)}`,
    );
    expect(view).toMatchObject({ truncated: true, bytes: 40_960_000 });
  });

  it("hostile guest: rejects a frame one byte over the cap", async () => {
    const agent = await hostileGuest((socket) =>
      socket.write(rawPrefix(MAX_FRAME_BYTES + 1, 1, 2)),
    );
    await expect(agent.exec({ argv: ["true"] }).result).rejects.toMatchObject({
      code: "PROTOCOL_ERROR",
    });
  });

  it.each([256, 1.5, "0", null])(
    "hostile guest: rejects an exit code out of range (%s)",
    async (exitCode) => {
      const agent = await hostileGuest((socket) =>
        socket.write(encodeFrame(1, { type: "exit", exit_code: exitCode })),
      );
      await expect(agent.exec({ argv: ["true"] }).result).rejects.toMatchObject({
        code: "PROTOCOL_ERROR",
      });
    },
  );

  it("hostile guest: output past the granted credit breaks the protocol (flood ignoring flow control)", async () => {
    const chunk = Buffer.alloc(MAX_CHUNK_BYTES, 0x79);
    const agent = await hostileGuest((socket) => {
      socket.write(encodeFrame(1, { type: "started", pid: 1 }));
      // One window's worth is allowed; the guest keeps going as if nobody had to read it.
      for (let sent = 0; sent <= DEFAULT_WINDOW_BYTES; sent += chunk.length) {
        socket.write(encodeFrame(1, { type: "stdout" }, chunk));
      }
    });
    let held = 0;
    const handle = agent.exec(
      { argv: ["yes"] },
      { onStdout: (c) => new Promise<void>(() => void (held += c.length)) }, // never drains
    );
    await expect(handle.result).rejects.toMatchObject({
      code: "PROTOCOL_ERROR",
      message: expect.stringContaining("credit") as unknown,
    });
    expect(held).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(agent.closed).toBe(true);
  });

  it("hostile guest: a hello with the wrong protocol is refused", async () => {
    await expect(
      hostileGuest(() => undefined, {}, { type: "hello", protocol: PROTOCOL_VERSION + 7 }),
    ).rejects.toMatchObject({ code: "PROTOCOL_ERROR" });
  });

  it("hostile guest: a hang after STARTED gives GUEST_UNRESPONSIVE after the timeout plus grace", async () => {
    const agent = await hostileGuest(
      (socket) => socket.write(encodeFrame(1, { type: "started", pid: 42 })),
      { graceMs: 200, workspaceId: "wsX" },
    );
    const started = Date.now();
    await expect(agent.exec({ argv: ["true"], timeoutMs: 100 }).result).rejects.toMatchObject({
      code: "GUEST_UNRESPONSIVE",
      hint: expect.stringContaining("pyro workspace reset wsX") as unknown,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    // The connection stays usable; late frames on the abandoned channel are dropped.
    expect(agent.closed).toBe(false);
  });

  it("hostile guest: a guest that never answers a call without a timeout hits the default deadline", async () => {
    const agent = await hostileGuest(() => undefined, { defaultDeadlineMs: 300 });
    await expect(agent.exec({ argv: ["true"] }).result).rejects.toMatchObject({
      code: "GUEST_UNRESPONSIVE",
    });
  });

  it("hostile guest: late frames for a call the host gave up on are dropped, not fatal", async () => {
    let socketRef: net.Socket | undefined;
    const agent = await hostileGuest((socket) => (socketRef = socket), { graceMs: 50 });
    await expect(agent.exec({ argv: ["true"], timeoutMs: 50 }).result).rejects.toMatchObject({
      code: "GUEST_UNRESPONSIVE",
    });
    socketRef?.write(encodeFrame(1, { type: "stdout" }, Buffer.from("late")));
    socketRef?.write(encodeFrame(1, { type: "exit", exit_code: 0 }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(agent.closed).toBe(false);
  });
});

/**
 * The handshake race (issue 9 item 12): while the guest boots the host repeats its hello, so the
 * agent may answer twice, and the second answer may arrive split anywhere, even glued to the
 * first. Whoever reads after the handshake must start exactly where it stopped. A scripted agent
 * on an in-memory stream delivers two hello answers and a pong, split at every byte boundary.
 */
class ScriptedStream extends Duplex {
  readonly received = new FrameDecoder();
  readonly requests: Frame[] = [];
  constructor(private readonly onRequest: (frame: Frame, stream: ScriptedStream) => void) {
    super();
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const frame of this.received.push(chunk)) {
      this.requests.push(frame);
      this.onRequest(frame, this);
    }
    done();
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function deliverSplit(stream: ScriptedStream, bytes: Buffer, at: number): Promise<void> {
  stream.push(bytes.subarray(0, at));
  await tick();
  stream.push(bytes.subarray(at));
  await tick();
}

describe("handshake resynchronisation", () => {
  const hello = encodeFrame(0, { type: "hello", protocol: PROTOCOL_VERSION, agent_version: "t" });
  const replies = Buffer.concat([hello, hello]);

  it("hostile guest: a repeated hello answer split at any byte never desynchronises the client", async () => {
    for (let at = 1; at < replies.length; at += 1) {
      const stream = new ScriptedStream((frame, s) => {
        if (frame.header.type === "exec") {
          s.push(
            Buffer.concat([
              encodeFrame(frame.channel, { type: "started", pid: 1 }),
              encodeFrame(frame.channel, { type: "stdout" }, Buffer.from("ok")),
              encodeFrame(frame.channel, { type: "exit", exit_code: 0 }),
            ]),
          );
        }
      });
      const greeted = greet(stream, 5000);
      await deliverSplit(stream, replies, at);
      await greeted;
      const agent = AgentConnection.attach(stream);
      let out = "";
      const result = await agent.exec({ argv: ["true"] }, { onStdout: (c) => (out += c) }).result;
      expect({ at, exitCode: result.exitCode, out }).toEqual({ at, exitCode: 0, out: "ok" });
      agent.close();
    }
  });

  it("hostile guest: the supervisor's agent reader starts where the handshake stopped", async () => {
    for (let at = 1; at < replies.length; at += 1) {
      const stream = new ScriptedStream((frame, s) => {
        if (frame.header.type === "exec") {
          s.push(
            Buffer.concat([
              encodeFrame(frame.channel, { type: "started", pid: 7 }),
              encodeFrame(frame.channel, { type: "exit", exit_code: 3 }),
            ]),
          );
        }
      });
      const greeted = greet(stream, 5000);
      await deliverSplit(stream, replies, at);
      await greeted;
      let broken: Error | undefined;
      const mux = new Multiplexer(
        stream as unknown as net.Socket,
        {},
        () => false,
        (error) => (broken = error),
      );
      const exec = ownExec(mux, { argv: ["true"] });
      const exit = await exec.result;
      expect({ at, broken: broken?.message, code: exit.exitCode }).toEqual({
        at,
        broken: undefined,
        code: 3,
      });
      stream.destroy();
    }
  });
});
