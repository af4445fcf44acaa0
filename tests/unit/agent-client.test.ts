import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PyroError } from "../../src/core/errors.js";
import { AgentConnection } from "../../src/protocol/client.js";
import { AGENT } from "../support/paths.js";

/**
 * The host client against the real C agent, run on the host over a Unix socket (the agent's
 * test transport). Guest-backed tests cover the same path through QEMU's virtio-serial port.
 */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function startAgent(): Promise<AgentConnection> {
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
  const [connection] = await AgentConnection.open(await accepted, 5000);
  cleanups.push(() => connection.close());
  return connection;
}

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
});
