import type { PyroPaths } from "../paths.js";
import { checkWorkspaceId } from "./record.js";
import {
  checkCols,
  checkCursor,
  checkGuestCwd,
  checkInput,
  checkMaxChars,
  checkRows,
  checkShellId,
  checkSignal,
  checkWaitForIdle,
  MAX_IDLE_WAIT_MS,
} from "./shell-service-args.js";
import { toPlainText } from "./plain-text.js";
import { supervisorRequest } from "./supervisor-client.js";
import { pendingChars, redactText } from "./redact.js";
import { readSecrets, secretEnv, secretValues } from "./secrets.js";
import type { SignalName } from "../../protocol/messages.js";

/**
 * PTY shells: an interactive login shell per shell id, owned by the workspace's supervisor, so it
 * keeps its cwd, environment and running programs across separate CLI, SDK and MCP calls. Output
 * is an append-only buffer read by cursor. Reset and delete end every shell.
 */
export interface ShellRecord {
  workspace_id: string;
  shell_id: string;
  cwd: string;
  cols: number;
  rows: number;
  state: "running" | "stopped";
  pid: number | null;
  started_at: string;
  ended_at: string | null;
  exit_code: number | null;
  execution_mode: "guest_agent";
}

export interface ShellReadPayload {
  workspace_id: string;
  shell_id: string;
  state: "running" | "stopped";
  exit_code: number | null;
  /** Raw terminal output, or the screen text when `plain` is set. */
  output: string;
  /** Where `output` starts (past the requested cursor when output was dropped). */
  cursor: number;
  /** Pass this as the next read's cursor. */
  next_cursor: number;
  /** Cursor past everything the shell has printed so far. */
  end_cursor: number;
  /** The requested cursor pointed at output that the bounded buffer had already dropped. */
  truncated: boolean;
  /** How many characters were dropped between the requested cursor and `cursor`. */
  truncated_chars: number;
  plain: boolean;
}

export interface ShellListPayload {
  workspace_id: string;
  count: number;
  shells: ShellRecord[];
}

export interface OpenShellOptions {
  cwd?: string;
  cols?: number;
  rows?: number;
  /** Secrets put into the shell's environment: `{SECRET_NAME: ENVVAR}` (secrets.ts). */
  secretEnv?: Record<string, string>;
}

export interface ReadShellOptions {
  cursor?: number;
  maxChars?: number;
  /** Wait until the shell printed nothing (and got no input) for this long; at most 30 s in all. */
  waitForIdleMs?: number;
  /** Strip ANSI escapes and apply carriage returns and backspaces. Cursors stay raw. */
  plain?: boolean;
}

export async function openShell(
  paths: PyroPaths,
  workspaceId: string,
  options: OpenShellOptions = {},
): Promise<ShellRecord> {
  checkWorkspaceId(workspaceId);
  const body = {
    cwd: checkGuestCwd(options.cwd),
    cols: checkCols(options.cols),
    rows: checkRows(options.rows),
    env: secretEnv(await readSecrets(paths, workspaceId), options.secretEnv),
  };
  return supervisorRequest(paths, workspaceId, "shell_open", body);
}

export async function readShell(
  paths: PyroPaths,
  workspaceId: string,
  shellId: string,
  options: ReadShellOptions = {},
): Promise<ShellReadPayload> {
  checkWorkspaceId(workspaceId);
  const body = {
    shell_id: checkShellId(shellId),
    cursor: checkCursor(options.cursor),
    max_chars: checkMaxChars(options.maxChars),
    wait_for_idle_ms: checkWaitForIdle(options.waitForIdleMs),
  };
  const read = await supervisorRequest<Omit<ShellReadPayload, "plain">>(
    paths,
    workspaceId,
    "shell_read",
    body,
    MAX_IDLE_WAIT_MS + 30_000,
  );
  const plain = options.plain === true;
  const redacted = redactShellRead(read, await secretValues(paths, workspaceId));
  return { ...redacted, output: plain ? toPlainText(redacted.output) : redacted.output, plain };
}

export function writeShell(
  paths: PyroPaths,
  workspaceId: string,
  shellId: string,
  options: { input: string; appendNewline?: boolean },
): Promise<ShellRecord & { input_chars: number }> {
  checkWorkspaceId(workspaceId);
  const input = checkInput(`${options.input}${options.appendNewline === false ? "" : "\n"}`);
  return supervisorRequest(paths, workspaceId, "shell_write", {
    shell_id: checkShellId(shellId),
    input,
  });
}

export function signalShell(
  paths: PyroPaths,
  workspaceId: string,
  shellId: string,
  options: { signalName?: SignalName } = {},
): Promise<ShellRecord & { signal: SignalName }> {
  checkWorkspaceId(workspaceId);
  return supervisorRequest(paths, workspaceId, "shell_signal", {
    shell_id: checkShellId(shellId),
    signal_name: checkSignal(options.signalName),
  });
}

export function resizeShell(
  paths: PyroPaths,
  workspaceId: string,
  shellId: string,
  options: { cols: number; rows: number },
): Promise<ShellRecord> {
  checkWorkspaceId(workspaceId);
  return supervisorRequest(paths, workspaceId, "shell_resize", {
    shell_id: checkShellId(shellId),
    cols: checkCols(options.cols),
    rows: checkRows(options.rows),
  });
}

export function closeShell(
  paths: PyroPaths,
  workspaceId: string,
  shellId: string,
): Promise<ShellRecord & { closed: true }> {
  checkWorkspaceId(workspaceId);
  return supervisorRequest(paths, workspaceId, "shell_close", { shell_id: checkShellId(shellId) });
}

export function listShells(paths: PyroPaths, workspaceId: string): Promise<ShellListPayload> {
  checkWorkspaceId(workspaceId);
  return supervisorRequest(paths, workspaceId, "shell_list", {});
}

/**
 * A read with the secrets redacted. While the shell runs, an end of output that could be the
 * start of a value is held back (next_cursor stays before it), so the next read sees the value
 * whole and redacts it: a value split across two reads never shows.
 */
export function redactShellRead<R extends { output: string; next_cursor: number; state: string }>(
  read: R,
  values: readonly string[],
): R {
  if (values.length === 0) return read;
  const held = read.state === "running" ? pendingChars(read.output, values) : 0;
  return {
    ...read,
    output: redactText(read.output.slice(0, read.output.length - held), values),
    next_cursor: read.next_cursor - held,
  };
}
