import fs from "node:fs/promises";
import { DEFAULTS } from "../../contract.js";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { captureOutput } from "../capture.js";
import { checkCommand, checkRange } from "../validate.js";
import { WORKSPACE_GUEST_PATH, workspaceFiles } from "./layout.js";
import { connectWorkspace, explainLostConnection } from "./lifecycle.js";
import { readRecord, updateRecord } from "./record.js";

/** Output kept per stream in each journal entry (the exec result itself keeps up to 16 MiB). */
export const JOURNAL_OUTPUT_BYTES = 64 * 1024;

export interface ExecWorkspaceOptions {
  command: string;
  timeoutSeconds?: number;
  /** Streamed output; a returned promise holds the guest back until it resolves. */
  onStdout?: (chunk: Buffer) => unknown;
  onStderr?: (chunk: Buffer) => unknown;
}

export interface JournalEntry {
  sequence: number;
  command: string;
  cwd: string;
  exit_code: number;
  timed_out: boolean;
  duration_ms: number;
  started_at: string;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  execution_mode: "guest_agent";
}

export interface ExecWorkspacePayload extends JournalEntry {
  workspace_id: string;
}

/** Run one command in /workspace through the supervisor, then record it in the journal. */
export async function execWorkspace(
  paths: PyroPaths,
  workspaceId: string,
  options: ExecWorkspaceOptions,
): Promise<ExecWorkspacePayload> {
  const command = checkCommand(options.command);
  const timeoutSeconds = checkRange(
    "timeoutSeconds",
    options.timeoutSeconds ?? DEFAULTS.timeoutSeconds,
  );
  const startedResetCount = (await readRecord(paths, workspaceId)).reset_count;
  const agent = await connectWorkspace(paths, workspaceId);
  const { stdout, stderr, handlers } = captureOutput(options);
  const startedAt = new Date();
  const started = performance.now();
  let result;
  try {
    result = await agent.exec(
      {
        argv: ["/bin/sh", "-c", command],
        cwd: WORKSPACE_GUEST_PATH,
        timeoutMs: timeoutSeconds * 1000,
      },
      handlers,
    ).result;
  } catch (error) {
    // A reset or delete that stopped the VM under this command says so, instead of "crashed".
    throw await explainLostConnection(paths, workspaceId, error, startedResetCount);
  } finally {
    agent.close();
  }
  const entryBase = {
    command,
    cwd: WORKSPACE_GUEST_PATH,
    exit_code: result.exitCode,
    timed_out: result.timedOut,
    duration_ms: Math.round(performance.now() - started),
    started_at: startedAt.toISOString(),
    execution_mode: "guest_agent" as const,
  };
  const out = stdout.text();
  const err = stderr.text();
  const record = await updateRecord(paths, workspaceId, (r) => {
    r.command_count += 1;
  });
  const entry: JournalEntry = {
    sequence: record.command_count,
    ...entryBase,
    stdout: out.slice(0, JOURNAL_OUTPUT_BYTES),
    stderr: err.slice(0, JOURNAL_OUTPUT_BYTES),
    stdout_truncated: stdout.truncated || out.length > JOURNAL_OUTPUT_BYTES,
    stderr_truncated: stderr.truncated || err.length > JOURNAL_OUTPUT_BYTES,
  };
  // One write per line with O_APPEND: concurrent writers never interleave inside a line.
  await fs.appendFile(workspaceFiles(paths, workspaceId).journal, `${JSON.stringify(entry)}\n`);
  return {
    workspace_id: workspaceId,
    ...entry,
    stdout: out,
    stderr: err,
    stdout_truncated: stdout.truncated,
    stderr_truncated: stderr.truncated,
  };
}

export interface LogsPayload {
  workspace_id: string;
  count: number;
  entries: JournalEntry[];
}

/** The journal in sequence order; a torn last line (a writer killed mid-append) is skipped. */
export async function logsWorkspace(paths: PyroPaths, workspaceId: string): Promise<LogsPayload> {
  await readRecord(paths, workspaceId);
  const text = await fs
    .readFile(workspaceFiles(paths, workspaceId).journal, "utf8")
    .catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw new PyroError("WORKSPACE_CORRUPT", `cannot read the journal: ${error.message}`);
    });
  const entries: JournalEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as JournalEntry);
    } catch {
      /* a partial line from an interrupted append */
    }
  }
  entries.sort((a, b) => a.sequence - b.sequence);
  return { workspace_id: workspaceId, count: entries.length, entries };
}
