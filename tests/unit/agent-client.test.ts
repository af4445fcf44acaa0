import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PyroError } from "../../src/core/errors.js";
import { AgentConnection, type AgentConnectionOptions } from "../../src/protocol/client.js";
import { DEFAULT_WINDOW_BYTES } from "../../src/protocol/messages.js";
import { AGENT } from "../support/paths.js";

/**
 * The host client against the real C agent, run on the host over a Unix socket (the agent's
 * test transport). Guest-backed tests cover the same path through QEMU's virtio-serial port.
 */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function startAgent(options: AgentConnectionOptions = {}): Promise<AgentConnection> {
  return (await startAgentProcess(options)).connection;
}

async function startAgentProcess(options: AgentConnectionOptions = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pyro-agent-"));
  const socketPath = path.join(dir, "agent.sock");
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const child: ChildProcess = spawn(AGENT, ["--port", socketPath], { stdio: "ignore" });
  cleanups.push(() => {
    child.kill("SIGKILL");
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const socket = await accepted;
  const [connection] = await AgentConnection.open(socket, 5000, options);
  cleanups.push(() => connection.close());
  return { connection, socket, child };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function collect(connection: AgentConnection, argv: string[], extra: object = {}) {
  let stdout = "";
  let stderr = "";
  const handle = connection.exec(
    { argv, ...extra },
    { onStdout: (c) => (stdout += c.toString()), onStderr: (c) => (stderr += c.toString()) },
  );
  return { handle, output: () => ({ stdout, stderr }) };
}

describe("agent client against the real agent", () => {
  it("agent: runs a shell command, streams both outputs, reports the exit code", async () => {
    const agent = await startAgent();
    const run = collect(agent, ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]);
    const result = await run.handle.result;
    expect(result.exitCode).toBe(3);
    expect(result.timedOut).toBe(false);
    expect(run.output()).toEqual({ stdout: "out\n", stderr: "err\n" });
  });

  it("agent: applies cwd and env, and gives /dev/null as stdin by default", async () => {
    const agent = await startAgent();
    const run = collect(agent, ["/bin/sh", "-c", 'pwd; echo "$GREETING"; cat; echo done'], {
      cwd: "/tmp",
      env: { GREETING: "hello there" },
    });
    expect((await run.handle.result).exitCode).toBe(0);
    expect(run.output().stdout).toBe("/tmp\nhello there\ndone\n");
  });

  it("agent: forwards stdin when asked", async () => {
    const agent = await startAgent();
    const run = collect(agent, ["/bin/cat"], { stdin: true });
    run.handle.writeStdin(Buffer.from("piped text\n"));
    run.handle.endStdin();
    expect((await run.handle.result).exitCode).toBe(0);
    expect(run.output().stdout).toBe("piped text\n");
  });

  it("agent: kills a command that outlives its timeout and reports 124", async () => {
    const agent = await startAgent();
    const started = Date.now();
    const run = collect(agent, ["/bin/sh", "-c", "sleep 30"], { timeoutMs: 300 });
    const result = await run.handle.result;
    expect(result).toMatchObject({ exitCode: 124, timedOut: true });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("agent: runs several commands at once on one connection", async () => {
    const agent = await startAgent();
    const slow = collect(agent, ["/bin/sh", "-c", "sleep 1; echo slow"]);
    const fast = collect(agent, ["/bin/sh", "-c", "echo fast"]);
    const fastResult = await fast.handle.result;
    expect(fastResult.exitCode).toBe(0);
    expect(slow.output().stdout).toBe("");
    await slow.handle.result;
    expect(slow.output().stdout).toBe("slow\n");
  });

  it("agent: a missing program exits 127 with a reason on stderr", async () => {
    const agent = await startAgent();
    const run = collect(agent, ["/nonexistent/program"]);
    expect((await run.handle.result).exitCode).toBe(127);
    expect(run.output().stderr).toContain("/nonexistent/program");
  });

  it("agent: rejects a working directory that does not exist with a typed error", async () => {
    const agent = await startAgent();
    const run = collect(agent, ["/bin/true"], { cwd: "/no/such/dir" });
    await expect(run.handle.result).rejects.toMatchObject({ code: "GUEST_ERROR" });
    await expect(run.handle.result).rejects.toBeInstanceOf(PyroError);
  });

  it("agent: delivers several MB of output intact", async () => {
    const agent = await startAgent();
    let size = 0;
    let ok = true;
    const handle = agent.exec(
      { argv: ["/bin/sh", "-c", "head -c 6000000 /dev/zero | tr '\\0' a"] },
      {
        onStdout: (chunk) => {
          size += chunk.length;
          if (chunk.some((b) => b !== 0x61)) ok = false;
        },
      },
    );
    expect((await handle.result).exitCode).toBe(0);
    expect(size).toBe(6_000_000);
    expect(ok).toBe(true);
  });

  it("agent: a slow consumer holds the guest back; the host holds at most one window", async () => {
    const { connection, socket } = await startAgentProcess();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let handled = 0;
    const handle = connection.exec(
      { argv: ["yes"] },
      {
        onStdout: async (chunk) => {
          handled += chunk.length;
          await held; // a reader that stopped reading
        },
      },
    );
    await sleep(800);
    const whileHeld = socket.bytesRead;
    await sleep(400);
    // `yes` writes as fast as it can, yet nothing more arrives: it is blocked on its pipe.
    expect(socket.bytesRead).toBe(whileHeld);
    expect(whileHeld).toBeLessThanOrEqual(DEFAULT_WINDOW_BYTES + 64 * 1024);
    expect(handled).toBeLessThanOrEqual(64 * 1024);
    release();
    await sleep(300);
    expect(socket.bytesRead).toBeGreaterThan(whileHeld + DEFAULT_WINDOW_BYTES); // flows again
    handle.signal("KILL");
    expect((await handle.result).signal).toBe("KILL");
  });

  it("agent: output held back by a slow consumer all arrives before the exit", async () => {
    const agent = await startAgent({ graceMs: 300 });
    let size = 0;
    const handle = agent.exec(
      // Less than one window: the command finishes at once, its output waits on the host.
      { argv: ["/bin/sh", "-c", "head -c 900000 /dev/zero"], timeoutMs: 200 },
      {
        onStdout: async (chunk) => {
          await sleep(60); // ~0.8 s in all: past the timeout plus grace, but the host's doing
          size += chunk.length;
        },
      },
    );
    const result = await handle.result;
    expect(result.exitCode).toBe(0);
    expect(size).toBe(900_000);
  });

  it("agent: a frozen agent gives GUEST_UNRESPONSIVE at the timeout plus grace", async () => {
    const { connection, child } = await startAgentProcess({ graceMs: 400, workspaceId: "ws1" });
    child.kill("SIGSTOP"); // a guest that stops answering (a fork bomb, say)
    const started = Date.now();
    const handle = connection.exec({ argv: ["echo", "hi"], timeoutMs: 300 });
    await expect(handle.result).rejects.toMatchObject({
      code: "GUEST_UNRESPONSIVE",
      hint: expect.stringContaining("pyro workspace reset ws1") as unknown,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(Date.now() - started).toBeLessThan(3000);
    child.kill("SIGCONT");
  });
});
