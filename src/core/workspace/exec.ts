import { DEFAULTS } from "../../contract.js";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { checkExecBounds } from "../output-bounds.js";
import { checkCommand, checkRange } from "../validate.js";
import {
  beginCommand,
  DEFAULT_PAGE_BYTES,
  listedEntry,
  LOGS_LIST_ENTRIES,
  MAX_PAGE_BYTES,
  readJournal,
  readOutputPage,
  type JournalEntry,
  type JournalRecording,
  type OutputPage,
  type OutputStream,
} from "./journal.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";
import { connectWorkspace, explainLostConnection } from "./lifecycle.js";
import { readRecord } from "./record.js";
import { redactHandlers, redactText } from "./redact.js";
import { readSecrets, redactionValues, secretEnv } from "./secrets.js";

export type { JournalEntry } from "./journal.js";

/** How often a long command reports progress to a caller that asked for it. */
export const PROGRESS_INTERVAL_MS = 5000;

export interface CommandProgress {
  sequence: number;
  elapsedMs: number;
  stdoutBytes: number;
  stderrBytes: number;
}

export interface ExecWorkspaceOptions {
  command: string;
  timeoutSeconds?: number;
  /** Head plus tail of each stream kept in the result (default 16 KiB, at most 512 KiB). */
  maxOutputBytes?: number;
  /**
   * Return after this many seconds with `state: "running"` if the command has not finished; it
   * goes on, owned by this process, and `logsWorkspace` with its sequence gives the end.
   */
  waitSeconds?: number;
  /** Streamed output; a returned promise holds the guest back until it resolves. */
  onStdout?: (chunk: Buffer) => unknown;
  onStderr?: (chunk: Buffer) => unknown;
  /** Called every few seconds while the call waits. */
  onCommandProgress?: (progress: CommandProgress) => void;
  /** Aborting ends the command in the guest (its whole process group) and the call fails CANCELLED. */
  signal?: AbortSignal;
  /** Secrets put into the command's environment: `{SECRET_NAME: ENVVAR}` (secrets.ts). */
  secretEnv?: Record<string, string>;
}

export interface ExecWorkspacePayload extends JournalEntry {
  workspace_id: string;
}

/**
 * Run one command in /workspace through the supervisor, recording it in the journal as it runs
 * (full output to disk, head and tail in the result). With `waitSeconds` the call may return
 * while the command still runs; the command is then finished and journaled in the background.
 */
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
  const { resultBytes, waitMs } = checkExecBounds(options);
  if (options.signal?.aborted) throw cancelled();
  const startedResetCount = (await readRecord(paths, workspaceId)).reset_count;
  const secrets = await readSecrets(paths, workspaceId);
  const env = secretEnv(secrets, options.secretEnv);
  const values = redactionValues(secrets);
  const agent = await connectWorkspace(paths, workspaceId);
  let recording: JournalRecording;
  try {
    recording = await beginCommand(paths, workspaceId, {
      command: redactText(command, values),
      executionMode: "guest_agent",
      resultBytes,
    });
  } catch (error) {
    agent.close();
    throw error;
  }
  // Redacted before anything sees it: the caller's stream, the result and the journal.
  const { handlers, flush } = redactHandlers(recorderHandlers(recording, options), values);
  const handle = agent.exec(
    {
      argv: ["/bin/sh", "-c", command],
      cwd: WORKSPACE_GUEST_PATH,
      timeoutMs: timeoutSeconds * 1000,
      env,
    },
    handlers,
  );
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    // The agent signals the command's process group, so children go too.
    handle.signal("KILL");
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  // Aborted while connecting: the listener never fires for a signal already aborted.
  if (options.signal?.aborted) onAbort();
  const finished = handle.result.then(
    async (outcome) => {
      await flush();
      return recording.finish("finished", outcome);
    },
    async (error: unknown) => {
      await recording.finish("lost");
      // A reset or delete that stopped the VM under this command says so, instead of "crashed".
      throw await explainLostConnection(paths, workspaceId, error, startedResetCount);
    },
  );
  const ended = finished.finally(() => {
    agent.close();
    options.signal?.removeEventListener("abort", onAbort);
  });
  ended.catch(() => undefined); // a command left running reports its end in the journal only
  const entry = await waitForEnd(ended, waitMs, recording, options.onCommandProgress);
  if (aborted) throw cancelled();
  if (entry === undefined) {
    // Returned while running: a later abort of this call's signal no longer concerns it.
    options.signal?.removeEventListener("abort", onAbort);
    return { workspace_id: workspaceId, ...recording.entry("running") };
  }
  return { workspace_id: workspaceId, ...entry };
}

/** Output goes to the recorders (journal files, result head and tail) and to the caller's streams. */
export function recorderHandlers(
  recording: JournalRecording,
  streams: Pick<ExecWorkspaceOptions, "onStdout" | "onStderr">,
): { onStdout: (chunk: Buffer) => Promise<void>; onStderr: (chunk: Buffer) => Promise<void> } {
  return {
    // The caller's promise (a slow terminal or pipe) and the disk write both hold the guest back.
    onStdout: async (chunk) => {
      await Promise.all([recording.stdout.push(chunk), streams.onStdout?.(chunk)]);
    },
    onStderr: async (chunk) => {
      await Promise.all([recording.stderr.push(chunk), streams.onStderr?.(chunk)]);
    },
  };
}

/** The command's end, or undefined when `waitMs` passed first; progress every few seconds. */
async function waitForEnd(
  ended: Promise<JournalEntry>,
  waitMs: number | undefined,
  recording: JournalRecording,
  onProgress: ExecWorkspaceOptions["onCommandProgress"],
): Promise<JournalEntry | undefined> {
  const started = performance.now();
  const ticker = onProgress
    ? setInterval(() => {
        onProgress({
          sequence: recording.sequence,
          elapsedMs: Math.round(performance.now() - started),
          stdoutBytes: recording.stdout.bytes,
          stderrBytes: recording.stderr.bytes,
        });
      }, PROGRESS_INTERVAL_MS)
    : undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (waitMs === undefined) return await ended;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), waitMs);
    });
    return await Promise.race([ended, timeout]);
  } finally {
    clearInterval(ticker);
    clearTimeout(timer);
  }
}

function cancelled(): PyroError {
  return new PyroError("CANCELLED", "the command was cancelled; it was ended in the guest", {
    hint: "Its output so far is in the journal: `pyro workspace logs`.",
  });
}

export interface LogsOptions {
  /** One command: its entry and a page of its output. */
  sequence?: number;
  stream?: OutputStream;
  offset?: number;
  limit?: number;
  /** With a sequence: wait up to this long for a running command to end. */
  waitSeconds?: number;
}

export interface LogsPayload {
  workspace_id: string;
  count: number;
  omitted_count: number;
  entries: JournalEntry[];
  page?: OutputPage;
}

/**
 * The journal: the last LOGS_LIST_ENTRIES entries with short previews, or with `sequence` one
 * command's entry and a page of its full output (waiting for it to end if asked).
 */
export async function logsWorkspace(
  paths: PyroPaths,
  workspaceId: string,
  options: LogsOptions = {},
): Promise<LogsPayload> {
  const limit = options.limit ?? DEFAULT_PAGE_BYTES;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_BYTES) {
    throw new PyroError(
      "INVALID_ARGUMENT",
      `--limit / limit must be a whole number from 1 to ${MAX_PAGE_BYTES}, got ${String(limit)}`,
      {
        hint: "Read large output in several pages: pass each page's next_offset as --offset / offset.",
      },
    );
  }
  const { waitMs } = checkExecBounds({ waitSeconds: options.waitSeconds });
  if (options.sequence === undefined) {
    if (
      options.offset !== undefined ||
      options.stream !== undefined ||
      options.waitSeconds !== undefined
    ) {
      throw new PyroError("INVALID_ARGUMENT", "offset, stream and wait_seconds need a sequence", {
        hint: "Pass --sequence / sequence: the command's number from its exec result or the log list.",
      });
    }
    const entries = await readJournal(paths, workspaceId);
    const shown = entries.slice(-LOGS_LIST_ENTRIES).map(listedEntry);
    return {
      workspace_id: workspaceId,
      count: entries.length,
      omitted_count: entries.length - shown.length,
      entries: shown,
    };
  }
  const deadline = Date.now() + (waitMs ?? 0);
  let entry = await findEntry(paths, workspaceId, options.sequence);
  while (entry.state === "running" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, deadline - Date.now())));
    entry = await findEntry(paths, workspaceId, options.sequence);
  }
  const page = await readOutputPage(paths, workspaceId, entry, {
    stream: options.stream ?? "stdout",
    offset: options.offset ?? 0,
    limit,
  });
  return { workspace_id: workspaceId, count: 1, omitted_count: 0, entries: [entry], page };
}

async function findEntry(
  paths: PyroPaths,
  workspaceId: string,
  sequence: number,
): Promise<JournalEntry> {
  const entries = await readJournal(paths, workspaceId);
  const entry = entries.find((e) => e.sequence === sequence);
  if (!entry) {
    const last = entries[entries.length - 1]?.sequence;
    throw new PyroError(
      "COMMAND_NOT_FOUND",
      `workspace ${workspaceId} has no command with sequence ${sequence}`,
      {
        hint:
          last === undefined
            ? "Its journal is empty (a reset clears it); run a command first."
            : `Sequences run from 1 to ${last}; list them with \`pyro workspace logs ${workspaceId}\`.`,
      },
    );
  }
  return entry;
}
