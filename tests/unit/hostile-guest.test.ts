import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BoundedCapture } from "../../src/core/capture.js";
import { AgentConnection } from "../../src/protocol/client.js";
import { encodeFrame } from "../../src/protocol/frame.js";

/**
 * A guest that lies: the peer here plays a compromised agent (something a real guest can do once
 * its root is owned), and the host must fail cleanly with a typed error and bounded memory.
 */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function hostileGuest(behave: (socket: net.Socket) => void): Promise<AgentConnection> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pyro-hostile-"));
  const socketPath = path.join(dir, "agent.sock");
  const server = net.createServer((socket) => {
    // Answer the hello honestly, then misbehave once the host sends its request.
    socket.once("data", () => {
      socket.write(encodeFrame(0, { type: "hello", protocol: 1, agent_version: "evil" }));
      socket.once("data", () => behave(socket));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const [connection] = await AgentConnection.open(net.connect(socketPath), 5000);
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

  it("hostile guest: a flood of output is kept only up to the capture bound", () => {
    const capture = new BoundedCapture(1024);
    for (let i = 0; i < 10_000; i += 1) capture.push(Buffer.alloc(4096, 0x61));
    expect(capture.text().length).toBe(1024);
    expect(capture.truncated).toBe(true);
  });
});
