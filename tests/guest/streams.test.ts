import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pyro } from "../../src/index.js";
import { DEFAULT_OUTPUT_BYTES } from "../../src/core/output-bounds.js";
import { pyro, qemuProcesses } from "../support/cli.js";
import { CLI } from "../support/paths.js";
import { createWorkspace, stateDir, type Record_ } from "../support/workspace.js";

/**
 * Streams against a real guest that prints as fast as it can: a slow reader must hold the guest
 * back instead of growing host memory (CLI and supervisor), captures stay bounded, and a guest
 * that stops answering gives a typed error instead of a hang. One workspace for all cases.
 */
let ws: Record_;

beforeAll(async () => {
  ws = await createWorkspace();
});

afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", ws.workspace_id]);
});

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssBytes(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function supervisorPid(id: string): number {
  return Number(readFileSync(path.join(stateDir(), "workspaces", id, "supervisor.pid"), "utf8"));
}

describe("streams", () => {
  it("exec: `yes` into a reader that stops reading keeps CLI and supervisor memory bounded", async () => {
    const supervisor = supervisorPid(ws.workspace_id);
    const supervisorBefore = rssBytes(supervisor);
    const child = spawn(
      process.execPath,
      [CLI, "workspace", "exec", ws.workspace_id, "--timeout-seconds", "8", "--", "yes"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout.pause(); // the reader is asleep: `... | sleep 35`
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let cliPeak = 0;
    let supervisorPeak = 0;
    const sampler = setInterval(() => {
      cliPeak = Math.max(cliPeak, rssBytes(child.pid ?? 0));
      supervisorPeak = Math.max(supervisorPeak, rssBytes(supervisor));
    }, 100);
    await sleep(7000);
    let read = 0;
    child.stdout.on("data", (d: Buffer) => (read += d.length));
    child.stdout.resume(); // the reader wakes up and drains
    const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
    clearInterval(sampler);
    expect(status, stderr).toBe(124); // the guest's own timeout, reached while it was held back
    expect(read).toBeGreaterThan(0);
    expect(cliPeak).toBeLessThan(150 * MiB); // ~75 MiB with flow control; GBs without
    expect(supervisorPeak - supervisorBefore).toBeLessThan(64 * MiB);
  });

  it("sdk: a single 24 MB line is kept as head and tail up to the bound and reported truncated", async () => {
    const result = await new Pyro().execWorkspace(ws.workspace_id, {
      command: "head -c 18000000 /dev/urandom | base64 -w0; echo; echo done >&2",
      timeoutSeconds: 120,
    });
    expect(result.exit_code).toBe(0);
    expect(result.stdout_truncated).toBe(true);
    expect(result.stdout_bytes).toBe(24_000_001);
    // Head and tail of the default bound, plus the one marker line between them.
    expect(Buffer.byteLength(result.stdout)).toBeGreaterThanOrEqual(DEFAULT_OUTPUT_BYTES - 4);
    expect(Buffer.byteLength(result.stdout)).toBeLessThan(DEFAULT_OUTPUT_BYTES + 100);
    expect(result.stdout).toMatch(/\n\[\.\.\. 2398\d{4} bytes omitted \.\.\.\]\n/);
    expect(result).toMatchObject({ stderr: "done\n", stderr_truncated: false, stderr_bytes: 5 });
  });

  it("exec: a frozen guest gives GUEST_UNRESPONSIVE with a reset hint, not a hang", async () => {
    const qemu = Number(qemuProcesses(ws.workspace_id)[0]?.trim().split(/\s+/)[0]);
    expect(qemu).toBeGreaterThan(0);
    process.kill(qemu, "SIGSTOP"); // the guest stops answering (what a fork bomb looks like)
    try {
      const started = Date.now();
      const result = await pyro([
        "workspace", "exec", ws.workspace_id, "--timeout-seconds", "2", "--json", "--", "echo", "hi",
      ]);
      const took = Date.now() - started;
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain("GUEST_UNRESPONSIVE");
      expect(result.stdout + result.stderr).toContain(`pyro workspace reset ${ws.workspace_id}`);
      expect(took).toBeGreaterThanOrEqual(12_000);
      expect(took).toBeLessThan(30_000);
    } finally {
      process.kill(qemu, "SIGCONT");
    }
    const after = await pyro(["workspace", "exec", ws.workspace_id, "--", "echo", "back"]);
    expect(after.stdout).toBe("back\n");
  });
});
