/**
 * Shell round trip against exec round trip, on one booted workspace, measured in-process (no CLI
 * process spawns): `shell write` of `echo <marker>` plus `shell read`s until the marker's output
 * is back, through the supervisor's control messages, against an exec of `echo <marker>` through
 * the same supervisor's agent relay. Median over BENCH_SHELL_RUNS (default 20) after a warm-up.
 * Run with `npx tsx bench/shell.ts`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { resolvePaths } from "../src/core/paths.js";
import { connectWorkspace } from "../src/core/workspace/lifecycle.js";
import { SupervisorClient } from "../src/core/workspace/supervisor-client.js";
import { fmt, median, p95 } from "./stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// The built CLI creates and deletes the workspace (its supervisor runs from dist/).
const CLI = path.join(ROOT, "dist", "src", "cli", "main.js");
const RUNS = Number(process.env.BENCH_SHELL_RUNS ?? "20");
const WARMUP = 3;

interface Read {
  output: string;
  next_cursor: number;
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-shell-"));
  process.env.PYRO_STATE_DIR = stateDir;
  const paths = resolvePaths();
  const created = execFileSync(
    process.execPath,
    [CLI, "workspace", "create", "debian:12", "--json"],
    {
      encoding: "utf8",
    },
  );
  const id = (JSON.parse(created) as { workspace_id: string }).workspace_id;
  const client = await SupervisorClient.connect(paths, id);
  const agent = await connectWorkspace(paths, id);
  const shellTimes: number[] = [];
  const execTimes: number[] = [];
  try {
    const shell = await client.request<{ shell_id: string }>("shell_open", {
      cwd: "/workspace",
      cols: 120,
      rows: 30,
    });
    let cursor = 0;
    // Wait for the first prompt so the shell is ready.
    for (let text = ""; !/# $/.test(text);) {
      const read = await client.request<Read>("shell_read", {
        shell_id: shell.shell_id,
        cursor,
        wait_for_idle_ms: 100,
      });
      text += read.output;
      cursor = read.next_cursor;
    }
    for (let i = 0; i < RUNS + WARMUP; i += 1) {
      const marker = `pyro-${i}-${(i * 7919) % 1000}`;
      // The echoed command line shows `echo pyro-...`; the output line starts with the marker
      // (after a newline, or after the \r that ends bash's bracketed-paste sequence).
      const expected = new RegExp(`[\r\n]${marker}\r\n`);
      const start = performance.now();
      await client.request("shell_write", { shell_id: shell.shell_id, input: `echo ${marker}\n` });
      let text = "";
      while (!expected.test(text)) {
        const read = await client.request<Read>("shell_read", {
          shell_id: shell.shell_id,
          cursor,
        });
        text += read.output;
        cursor = read.next_cursor;
      }
      const elapsed = performance.now() - start;
      if (i >= WARMUP) shellTimes.push(elapsed);
    }
    for (let i = 0; i < RUNS + WARMUP; i += 1) {
      const start = performance.now();
      let out = "";
      await agent.exec(
        { argv: ["/bin/sh", "-c", `echo pyro-${i}`], cwd: "/workspace" },
        { onStdout: (c) => (out += c.toString()) },
      ).result;
      const elapsed = performance.now() - start;
      if (!out.includes(`pyro-${i}`)) throw new Error("exec output missing");
      if (i >= WARMUP) execTimes.push(elapsed);
    }
  } finally {
    client.close();
    agent.close();
    execFileSync(process.execPath, [CLI, "workspace", "delete", id]);
    rmSync(stateDir, { recursive: true, force: true });
  }
  const shellMed = median(shellTimes);
  const execMed = median(execTimes);
  console.log(
    `shell write+read echo round trip  median ${fmt(shellMed)}  p95 ${fmt(p95(shellTimes))}  (n=${RUNS})`,
  );
  console.log(
    `exec echo round trip              median ${fmt(execMed)}  p95 ${fmt(p95(execTimes))}  (n=${RUNS})`,
  );
  console.log(`  ratio shell / exec              ${(shellMed / execMed).toFixed(2)}x`);
}

await main();
