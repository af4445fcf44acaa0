import fs from "node:fs/promises";
import { DEFAULTS } from "../../contract.js";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { captureOutput, STREAMED_CAPTURE_BYTES, type BoundedCapture } from "../capture.js";
import type { ExecOutcome } from "../run.js";
import { checkCommand, checkRange } from "../validate.js";
import { WORKSPACE_GUEST_PATH, workspaceFiles } from "./layout.js";
import { connectWorkspace, explainLostConnection } from "./lifecycle.js";
import { readRecord, updateRecord, type ExecutionMode } from "./record.js";
import { redactHandlers, redactText } from "./redact.js";
import { readSecrets, redactionValues, secretEnv } from "./secrets.js";

/** Output kept per stream in each journal entry (the exec result itself keeps up to 16 MiB). */
export const JOURNAL_OUTPUT_BYTES = STREAMED_CAPTURE_BYTES;

export interface ExecWorkspaceOptions {
  command: string;
  timeoutSeconds?: number;
  /**
   * Streamed output; a returned promise holds the guest back until it resolves. A streamed
   * result keeps only the first 64 KiB of each stream (the caller already has every byte).
   */
  onStdout?: (chunk: Buffer) => unknown;
  onStderr?: (chunk: Buffer) => unknown;
  /** Secrets put into the command's environment: `{SECRET_NAME: ENVVAR}` (secrets.ts). */
  secretEnv?: Record<string, string>;
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
  execution_mode: ExecutionMode;
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
  const secrets = await readSecrets(paths, workspaceId);
  const env = secretEnv(secrets, options.secretEnv);
  const values = redactionValues(secrets);
  const agent = await connectWorkspace(paths, workspaceId);
  const { stdout, stderr, handlers: captured } = captureOutput(options);
  // Redacted before anything sees it: the caller's stream, the result and the journal.
  const { handlers, flush } = redactHandlers(captured, values);
  const startedAt = new Date();
  const started = performance.now();
  let result;
  try {
    result = await agent.exec(
      {
        argv: ["/bin/sh", "-c", command],
        cwd: WORKSPACE_GUEST_PATH,
        timeoutMs: timeoutSeconds * 1000,
        env,
      },
      handlers,
    ).result;
    await flush();
  } catch (error) {
    // A reset or delete that stopped the VM under this command says so, instead of "crashed".
    throw await explainLostConnection(paths, workspaceId, error, startedResetCount);
  } finally {
    agent.close();
  }
  return journalExec(paths, workspaceId, {
    command: redactText(command, values),
    outcome: result,
    startedAt,
    durationMs: Math.round(performance.now() - started),
    output: { stdout, stderr },
    executionMode: "guest_agent",
  });
}

/**
 * Count one finished command in the record, append its entry to the journal (output cut to
 * JOURNAL_OUTPUT_BYTES per stream) and return the exec payload: the same for a guest and a
 * host_compat workspace.
 */
export async function journalExec(
  paths: PyroPaths,
  workspaceId: string,
  run: {
    command: string;
    outcome: ExecOutcome;
    startedAt: Date;
    durationMs: number;
    output: { stdout: BoundedCapture; stderr: BoundedCapture };
    executionMode: ExecutionMode;
  },
): Promise<ExecWorkspacePayload> {
  const { stdout, stderr } = run.output;
  const out = stdout.text();
  const err = stderr.text();
  const record = await updateRecord(paths, workspaceId, (r) => {
    r.command_count += 1;
  });
  const entry: JournalEntry = {
    sequence: record.command_count,
    command: run.command,
    cwd: WORKSPACE_GUEST_PATH,
    exit_code: run.outcome.exitCode,
    timed_out: run.outcome.timedOut,
    duration_ms: run.durationMs,
    started_at: run.startedAt.toISOString(),
    execution_mode: run.executionMode,
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
