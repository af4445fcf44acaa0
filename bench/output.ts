/**
 * Output bounds (issue 12 item 1), through the official MCP client and the built `pyro mcp serve`
 * against one workspace:
 *  1. the size on the wire of a workspace_exec result for 1 KB, 1 MB and 20 MB of output (the
 *     JSON-RPC line the server writes), against what the previous server sent for the same output
 *     (the payload with up to 16 MiB per stream, once as structuredContent and once as
 *     pretty-printed text; computed from the same output, since above ~5 MB it ended the session);
 *  2. the time to page the 20 MB back out of the journal with workspace_logs (1 MiB pages),
 *     against the floor of reading the same journal file straight from the host's disk.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { BENCH_CLI, median } from "./stats.js";

const CLI = BENCH_CLI;
const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const OLD_CAPTURE_BYTES = 16 * 1024 * 1024;
const MCP_CLIENT_LIMIT = 10 * 1024 * 1024;
const stateDir = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-output-"));
const env = { ...(process.env as Record<string, string>), PYRO_STATE_DIR: stateDir };

function pyro(args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { env, encoding: "utf8" });
}

/** The line the server writes for a result: JSON-RPC envelope, JSON, newline. */
const wireBytes = (result: unknown) =>
  Buffer.byteLength(JSON.stringify({ jsonrpc: "2.0", id: 1, result })) + 1;

/** What the previous server wrote for the same command: full payload twice. */
function oldWireBytes(entry: Record<string, unknown>, output: Buffer): number {
  const stdout = output.subarray(0, OLD_CAPTURE_BYTES).toString("utf8");
  const payload = {
    workspace_id: entry.workspace_id,
    sequence: entry.sequence,
    command: entry.command,
    cwd: entry.cwd,
    stdout,
    stderr: "",
    stdout_truncated: output.length > OLD_CAPTURE_BYTES,
    stderr_truncated: false,
    exit_code: 0,
    timed_out: false,
    duration_ms: entry.duration_ms,
    started_at: entry.started_at,
    execution_mode: entry.execution_mode,
  };
  return wireBytes({
    content: [{ type: "text", text: JSON.stringify(payload, null, 2) }],
    structuredContent: payload,
  });
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const ws = JSON.parse(pyro(["workspace", "create", "debian:12", "--json"])) as {
    workspace_id: string;
  };
  const client = new Client({ name: "pyro-bench-output", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: [CLI, "mcp", "serve"], env }),
  );
  try {
    console.log("workspace_exec result on the wire (MCP, JSON-RPC line):");
    let bigSequence = 0;
    let bigOutput = Buffer.alloc(0);
    for (const [label, count] of [
      ["1 KB", 250],
      ["1 MB", 160_000],
      ["20 MB", 2_700_000],
    ] as const) {
      const output = execFileSync("seq", ["1", String(count)], { maxBuffer: 64 * 1024 * 1024 });
      const result = (await client.callTool({
        name: "workspace_exec",
        arguments: {
          workspace_id: ws.workspace_id,
          command: `seq 1 ${count}`,
          timeout_seconds: 300,
        },
      })) as CallToolResult;
      const entry = result.structuredContent as Record<string, unknown>;
      if (entry.stdout_bytes !== output.length) throw new Error(`${label}: wrong byte count`);
      const now = wireBytes(result);
      const before = oldWireBytes(entry, output);
      console.log(
        `  ${label.padEnd(5)} (${output.length} bytes): ${kib(now)} now; ${kib(before)} before (${(before / now).toFixed(0)}x)${before > MCP_CLIENT_LIMIT ? ", over the client's 10 MiB limit: the session ended" : ""}`,
      );
      if (label === "20 MB") {
        bigSequence = entry.sequence as number;
        bigOutput = output;
      }
    }

    const pageTimes: number[] = [];
    let pages = 0;
    for (let run = 0; run < RUNS; run += 1) {
      const started = performance.now();
      const parts: string[] = [];
      let offset = 0;
      pages = 0;
      for (;;) {
        const logs = (await client.callTool({
          name: "workspace_logs",
          arguments: {
            workspace_id: ws.workspace_id,
            sequence: bigSequence,
            offset,
            limit: 1024 * 1024,
          },
        })) as CallToolResult;
        const page = (
          logs.structuredContent as { page: { data: string; next_offset: number; eof: boolean } }
        ).page;
        parts.push(page.data);
        pages += 1;
        offset = page.next_offset;
        if (page.eof) break;
      }
      pageTimes.push(performance.now() - started);
      if (!Buffer.from(parts.join("")).equals(bigOutput)) throw new Error("paged output differs");
    }
    const file = path.join(
      stateDir,
      "workspaces",
      ws.workspace_id,
      "journal-output",
      `${bigSequence}.stdout`,
    );
    const floorTimes: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      const started = performance.now();
      readFileSync(file);
      floorTimes.push(performance.now() - started);
    }
    const paged = median(pageTimes);
    const floor = median(floorTimes);
    const mb = bigOutput.length / 1e6;
    console.log(
      `page 20 MB out of the journal (workspace_logs, ${pages} pages of 1 MiB, median of ${RUNS}): ${paged.toFixed(0)} ms (${(mb / (paged / 1000)).toFixed(0)} MB/s); floor (read the file on the host): ${floor.toFixed(1)} ms; ratio ${(paged / floor).toFixed(0)}x`,
    );
  } finally {
    await client.close();
    pyro(["workspace", "delete", ws.workspace_id]);
  }
}

await main();
