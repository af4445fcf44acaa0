import { execFileSync, spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../support/paths.js";
import { Pyro } from "../../src/index.js";
import { parseJson, pyro } from "../support/cli.js";
import { createWorkspace, type Record_ } from "../support/workspace.js";
import { mcpClient } from "../support/mcp.js";

/**
 * Bounded output and long commands through the official MCP client and `pyro mcp serve`, on one
 * real workspace: 20 MB of output leaves a small result and pages back byte for byte; a cancelled
 * call ends its command in the guest; a 90 s command outlives the client's 60 s request timeout
 * through state "running" and polling (started first, so it overlaps the other cases).
 */
let ws: Record_;
let client: Client;
let longCall: Promise<CallToolResult>;
const progress: string[] = [];

interface Entry {
  sequence: number;
  command: string;
  state: string;
  exit_code: number | null;
  stdout: string;
  stdout_bytes: number;
  stdout_truncated: boolean;
}
interface Logs {
  entries: Entry[];
  page?: { data: string; next_offset: number; eof: boolean; stored_bytes: number };
}

async function call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

async function exec(command: string, extra: Record<string, unknown> = {}): Promise<Entry> {
  const result = await call("workspace_exec", { workspace_id: ws.workspace_id, command, ...extra });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  const entry = result.structuredContent as unknown as Entry;
  expect(entry.state).toBe("finished");
  return entry;
}

const errorText = (result: CallToolResult) =>
  result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

beforeAll(async () => {
  ws = await createWorkspace();
  client = await mcpClient("pyro-long-commands-test");
  // The client's default request timeout (60 s) applies; the server's default wait is 50 s.
  longCall = client.callTool(
    {
      name: "workspace_exec",
      arguments: {
        workspace_id: ws.workspace_id,
        command: "sleep 90; echo slept",
        timeout_seconds: 150,
      },
    },
    undefined,
    { onprogress: (p) => progress.push(p.message ?? String(p.progress)) },
  ) as Promise<CallToolResult>;
});

afterAll(async () => {
  await client?.close();
  if (ws) await pyro(["workspace", "delete", ws.workspace_id]);
});

describe.concurrent("long commands and bounded output over MCP", () => {
  it("mcp: 20 MB of output gives a bounded result, and the journal pages it back byte for byte", async () => {
    const expected = execFileSync("seq", ["1", "2700000"], { maxBuffer: 64 * 1024 * 1024 });
    expect(expected.length).toBeGreaterThan(20_000_000);
    const result = await call("workspace_exec", {
      workspace_id: ws.workspace_id,
      command: "seq 1 2700000",
      timeout_seconds: 300,
    });
    expect(result.isError).toBeFalsy();
    // Small on the wire: the structured result and its short text, not 20 MB twice.
    expect(JSON.stringify(result).length).toBeLessThan(48 * 1024);
    const entry = result.structuredContent as unknown as Entry;
    expect(entry).toMatchObject({
      state: "finished",
      exit_code: 0,
      stdout_truncated: true,
      stdout_bytes: expected.length,
    });
    expect(entry.stdout.startsWith("1\n2\n3\n")).toBe(true);
    expect(entry.stdout.endsWith("2699999\n2700000\n")).toBe(true);

    const pages: string[] = [];
    let offset = 0;
    for (;;) {
      const logs = await call("workspace_logs", {
        workspace_id: ws.workspace_id,
        sequence: entry.sequence,
        offset,
        limit: 1024 * 1024,
      });
      expect(logs.isError, errorText(logs)).toBeFalsy();
      const page = (logs.structuredContent as unknown as Logs).page;
      if (!page) throw new Error("workspace_logs with a sequence returned no page");
      pages.push(page.data);
      offset = page.next_offset;
      if (page.eof) break;
    }
    expect(pages.length).toBeGreaterThanOrEqual(19);
    expect(Buffer.from(pages.join("")).equals(expected)).toBe(true);

    // The listing stays small too, and the session is still good.
    const list = await call("workspace_logs", { workspace_id: ws.workspace_id });
    expect(JSON.stringify(list).length).toBeLessThan(32 * 1024);
    expect((await exec("echo still here")).stdout).toBe("still here\n");
  }, 400_000);

  it("mcp: cancelling a call ends its sleep 100 in the guest", async () => {
    const abort = new AbortController();
    // A child in the background, so the kill must reach the command's whole process group.
    const cancelled = client.callTool(
      {
        name: "workspace_exec",
        arguments: {
          workspace_id: ws.workspace_id,
          command: "sleep 100 & echo $! > /tmp/sleep.pid; wait",
        },
      },
      undefined,
      { signal: abort.signal },
    );
    cancelled.catch(() => undefined);
    const sleeps = async () =>
      (
        await exec(
          "p=$(cat /tmp/sleep.pid 2>/dev/null) && grep -c '^sleep' /proc/$p/cmdline 2>/dev/null || echo 0",
        )
      ).stdout.trim();
    let seen = "0";
    for (let i = 0; i < 60 && seen === "0"; i += 1) seen = await sleeps();
    expect(seen).toBe("1");
    abort.abort("the test gave up on it");
    await expect(cancelled).rejects.toThrow();
    let left = seen;
    for (let i = 0; i < 30 && left !== "0"; i += 1) left = await sleeps();
    expect(left).toBe("0");
    // The journal shows how it ended: killed (SIGKILL, 137).
    const logs = await call("workspace_logs", { workspace_id: ws.workspace_id });
    const entries = (logs.structuredContent as unknown as Logs).entries;
    expect(entries.find((e) => e.command.startsWith("sleep 100 &"))?.exit_code).toBe(137);
  }, 200_000);

  it("mcp: bad paging and output arguments are typed tool errors naming the parameter", async () => {
    const tooLarge = await call("workspace_logs", {
      workspace_id: ws.workspace_id,
      sequence: 1,
      limit: 64 * 1024 * 1024,
    });
    expect(tooLarge.isError).toBe(true);
    expect(errorText(tooLarge)).toMatch(/^INVALID_ARGUMENT: limit must be a whole number/);
    const unknown = await call("workspace_logs", { workspace_id: ws.workspace_id, sequence: 9999 });
    expect(unknown.isError).toBe(true);
    expect(errorText(unknown)).toMatch(/^COMMAND_NOT_FOUND: .*sequence 9999/);
    expect(errorText(unknown)).toContain("hint:");
    const bigResult = await call("workspace_exec", {
      workspace_id: ws.workspace_id,
      command: "true",
      max_output_bytes: 100 * 1024 * 1024,
    });
    expect(bigResult.isError).toBe(true);
    expect(errorText(bigResult)).toMatch(/^INVALID_ARGUMENT: max_output_bytes must be/);
    const noSequence = await call("workspace_logs", { workspace_id: ws.workspace_id, offset: 10 });
    expect(noSequence.isError).toBe(true);
    expect(errorText(noSequence)).toMatch(/^INVALID_ARGUMENT: .*need a sequence/);
  });

  it("sdk and cli: an AbortSignal cancels execWorkspace; logs pages with flags; the CLI has no --wait-seconds", async () => {
    const abort = new AbortController();
    const call = new Pyro().execWorkspace(ws.workspace_id, {
      command: "sleep 100",
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(), 3000);
    await expect(call).rejects.toMatchObject({ code: "CANCELLED" });

    const ran = parseJson<Entry>(
      (await pyro(["workspace", "exec", ws.workspace_id, "--json", "--max-output-bytes", "8", "--", "seq", "1", "1000"])).stdout,
    );
    expect(ran).toMatchObject({ state: "finished", stdout: "1\n2\n\n[... 3885 bytes omitted ...]\n000\n", stdout_truncated: true, stdout_bytes: 3893 });
    const page = parseJson<Logs>(
      (await pyro(["workspace", "logs", ws.workspace_id, "--json", "--sequence", String(ran.sequence), "--offset", "3880", "--limit", "100"])).stdout,
    ).page;
    expect(page).toMatchObject({ data: "998\n999\n1000\n", next_offset: 3893, eof: true });
    const human = await pyro(["workspace", "logs", ws.workspace_id, "--sequence", String(ran.sequence), "--offset", "3888"]);
    expect(human).toMatchObject({ status: 0, stdout: "1000\n" });
    expect(human.stderr).toContain("next_offset=3893");
    const past = await pyro(["workspace", "logs", ws.workspace_id, "--sequence", String(ran.sequence), "--offset", "5000"]);
    expect(past.status).not.toBe(0);
    expect(past.stderr).toContain("--offset");
    const wait = await pyro(["workspace", "exec", ws.workspace_id, "--wait-seconds", "5", "--", "true"]);
    expect(wait.status).not.toBe(0);
    expect(wait.stderr).toContain("--wait-seconds");
  });

  it("cli: a command whose owner is killed ends in the guest and stays in the journal as lost", async () => {
    const owner = spawn(process.execPath, [CLI, "workspace", "exec", ws.workspace_id, "--", "sleep", "200"], {
      stdio: "ignore",
    });
    const journal = async () =>
      parseJson<Logs>((await pyro(["workspace", "logs", ws.workspace_id, "--json"])).stdout).entries.find(
        (e) => e.command === "sleep 200",
      );
    let entry: Entry | undefined;
    for (let i = 0; i < 60 && entry?.state !== "running"; i += 1) entry = await journal();
    expect(entry?.state).toBe("running");
    owner.kill("SIGKILL");
    await new Promise((resolve) => owner.once("exit", resolve));
    expect((await journal())?.state).toBe("lost");
  });

  it("mcp: vm_run reports progress, returns running after its wait_seconds and vm_run_wait gives its end", async () => {
    const runProgress: string[] = [];
    const first = (await client.callTool(
      {
        name: "vm_run",
        arguments: { environment: "debian:12", command: "sleep 14; echo run-done", wait_seconds: 8 },
      },
      undefined,
      { onprogress: (p) => runProgress.push(p.message ?? String(p.progress)) },
    )) as CallToolResult;
    // notifications/progress every 5 s while the call waited (8 s).
    expect(runProgress.length).toBeGreaterThan(0);
    expect(runProgress[0]).toMatch(/^the command running for \d+ s; \d+ bytes of stdout/);
    expect(first.isError, errorText(first)).toBeFalsy();
    const running = first.structuredContent as unknown as { state: string; run_id: string; exit_code: number | null };
    expect(running).toMatchObject({ state: "running", exit_code: null, run_id: expect.stringMatching(/^run-[0-9a-f]{12}$/) });
    let end = running as unknown as { state: string; exit_code: number | null; stdout: string };
    for (let i = 0; i < 10 && end.state === "running"; i += 1) {
      const waited = await call("vm_run_wait", { run_id: running.run_id, wait_seconds: 50 });
      expect(waited.isError, errorText(waited)).toBeFalsy();
      end = waited.structuredContent as unknown as typeof end;
    }
    expect(end).toMatchObject({ state: "finished", exit_code: 0, stdout: "run-done\n" });
    const unknown = await call("vm_run_wait", { run_id: "run-000000000000" });
    expect(unknown.isError).toBe(true);
    expect(errorText(unknown)).toMatch(/^RUN_NOT_FOUND: /);
  }, 300_000);

  it("mcp: a 90 s command returns running before the client's timeout and finishes through polling", async () => {
    const first = await longCall;
    expect(first.isError, errorText(first)).toBeFalsy();
    const running = first.structuredContent as unknown as Entry;
    expect(running).toMatchObject({ state: "running", exit_code: null });
    expect(progress.length).toBeGreaterThan(0); // notifications/progress while it waited
    let entry = running;
    let page: Logs["page"];
    for (let i = 0; i < 10 && entry.state === "running"; i += 1) {
      const logs = await call("workspace_logs", {
        workspace_id: ws.workspace_id,
        sequence: running.sequence,
        wait_seconds: 50,
      });
      expect(logs.isError, errorText(logs)).toBeFalsy();
      const body = logs.structuredContent as unknown as Logs;
      entry = body.entries[0] as Entry;
      page = body.page;
    }
    expect(entry).toMatchObject({ state: "finished", exit_code: 0 });
    expect(page?.data).toBe("slept\n");
  }, 300_000);
});

describe("long commands and reset", () => {
  it("sdk: a command left running after its call returned is ended by reset, and the new journal stays clean", async () => {
    const sdk = new Pyro();
    const running = await sdk.execWorkspace(ws.workspace_id, { command: "sleep 300", waitSeconds: 1 });
    expect(running).toMatchObject({ state: "running", exit_code: null });
    const before = await sdk.logsWorkspace(ws.workspace_id, { sequence: running.sequence });
    expect(before.entries[0]?.state).toBe("running");
    await sdk.resetWorkspace(ws.workspace_id);
    const first = await sdk.execWorkspace(ws.workspace_id, { command: "echo fresh" });
    expect(first).toMatchObject({ sequence: 1, stdout: "fresh\n" });
    const after = await sdk.logsWorkspace(ws.workspace_id);
    expect(after.entries.map((e) => e.command)).toEqual(["echo fresh"]);
  }, 300_000);
});
