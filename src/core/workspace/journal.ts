import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../errors.js";
import { processAlive } from "../fs.js";
import type { PyroPaths } from "../paths.js";
import {
  JOURNAL_STREAM_CAP_BYTES,
  StreamRecorder,
  streamFields,
  utf8Boundary,
  type StreamView,
} from "../output-bounds.js";
import type { ExecOutcome } from "../run.js";
import { WORKSPACE_GUEST_PATH, workspaceFiles } from "./layout.js";
import { readRecord, updateRecord, type ExecutionMode } from "./record.js";

/**
 * The command journal: `journal.jsonl` holds one line when a command starts (state running, the
 * owning process) and one when it ends; the last line of a sequence wins. The full output of
 * each command is in `journal-output/<sequence>.stdout|.stderr` (up to JOURNAL_STREAM_CAP_BYTES
 * per stream); entries carry a short head-and-tail preview. Reset clears both.
 */
export type CommandState = "running" | "finished" | "lost";

export interface JournalEntry {
  sequence: number;
  command: string;
  cwd: string;
  state: CommandState;
  exit_code: number | null;
  timed_out: boolean;
  duration_ms: number;
  started_at: string;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  stdout_bytes: number;
  stderr_bytes: number;
  execution_mode: ExecutionMode;
}

/** A journal line: the entry plus who runs it and in which generation (reset count). */
interface JournalLine extends JournalEntry {
  owner_pid?: number;
}

/** Preview of each stream kept in a journal line (the full output is in the output files). */
export const JOURNAL_PREVIEW_BYTES = 4 * 1024;
/** Entries `workspace logs` lists without a sequence: the most recent ones. */
export const LOGS_LIST_ENTRIES = 50;
/** Preview of each stream in a listed entry. */
const LIST_PREVIEW_CHARS = 1024;
export const DEFAULT_PAGE_BYTES = 64 * 1024;
export const MAX_PAGE_BYTES = 1024 * 1024;

export function journalOutputDir(paths: PyroPaths, workspaceId: string): string {
  return path.join(workspaceFiles(paths, workspaceId).dir, "journal-output");
}

function outputFile(paths: PyroPaths, id: string, sequence: number, stream: OutputStream): string {
  return path.join(journalOutputDir(paths, id), `${sequence}.${stream}`);
}

export type OutputStream = "stdout" | "stderr";

/** A command being recorded: its sequence, its two stream recorders, and how to finish it. */
export interface JournalRecording {
  sequence: number;
  startedAt: Date;
  stdout: StreamRecorder;
  stderr: StreamRecorder;
  /** The entry as it stands (state running until `finish`). */
  entry(state: CommandState, outcome?: ExecOutcome): JournalEntry;
  /** Close the files and append the final line (skipped when a reset cleared the journal). */
  finish(state: CommandState, outcome?: ExecOutcome): Promise<JournalEntry>;
}

/**
 * Start recording one command: take the next sequence, open its output files and append the
 * running line. `resultBytes` is the head-and-tail size the caller's result keeps per stream.
 */
export async function beginCommand(
  paths: PyroPaths,
  workspaceId: string,
  run: { command: string; executionMode: ExecutionMode; resultBytes: number },
): Promise<JournalRecording> {
  const record = await updateRecord(paths, workspaceId, (r) => {
    r.command_count += 1;
  });
  const sequence = record.command_count;
  const generation = record.reset_count;
  await fs.mkdir(journalOutputDir(paths, workspaceId), { recursive: true });
  const outFile = await fs.open(outputFile(paths, workspaceId, sequence, "stdout"), "w");
  const errFile = await fs.open(outputFile(paths, workspaceId, sequence, "stderr"), "w");
  const stdout = new StreamRecorder(run.resultBytes, outFile);
  const stderr = new StreamRecorder(run.resultBytes, errFile);
  const startedAt = new Date();
  const started = performance.now();
  const entry = (state: CommandState, outcome?: ExecOutcome): JournalEntry => {
    return {
      sequence,
      command: run.command,
      cwd: WORKSPACE_GUEST_PATH,
      state,
      exit_code: outcome?.exitCode ?? null,
      timed_out: outcome?.timedOut ?? false,
      duration_ms: Math.round(performance.now() - started),
      started_at: startedAt.toISOString(),
      ...streamFields({ stdout, stderr }),
      execution_mode: run.executionMode,
    };
  };
  await appendLine(paths, workspaceId, { ...preview(entry("running")), owner_pid: process.pid });
  let finished: Promise<JournalEntry> | undefined;
  return {
    sequence,
    startedAt,
    stdout,
    stderr,
    entry,
    finish: (state, outcome) =>
      (finished ??= (async () => {
        await Promise.allSettled([outFile.close(), errFile.close()]);
        const final = entry(state, outcome);
        const now = await readRecord(paths, workspaceId).catch(() => undefined);
        // A reset (or delete) since the start cleared this command's journal: write nothing.
        if (now?.reset_count === generation) await appendLine(paths, workspaceId, preview(final));
        return final;
      })()),
  };
}

function preview(entry: JournalEntry): JournalEntry {
  const cut = (view: StreamView): StreamView => {
    const bytes = Buffer.byteLength(view.text);
    if (bytes <= JOURNAL_PREVIEW_BYTES) return view;
    const buf = Buffer.from(view.text);
    const half = JOURNAL_PREVIEW_BYTES / 2;
    const head = buf.subarray(0, utf8Boundary(buf, half)).toString("utf8");
    const tail = buf.subarray(utf8Boundary(buf, buf.length - half)).toString("utf8");
    return {
      text: `${head}\n[... output cut; page it with workspace logs ...]\n${tail}`,
      truncated: true,
      bytes: view.bytes,
    };
  };
  const out = cut({
    text: entry.stdout,
    truncated: entry.stdout_truncated,
    bytes: entry.stdout_bytes,
  });
  const err = cut({
    text: entry.stderr,
    truncated: entry.stderr_truncated,
    bytes: entry.stderr_bytes,
  });
  return {
    ...entry,
    stdout: out.text,
    stderr: err.text,
    stdout_truncated: out.truncated,
    stderr_truncated: err.truncated,
  };
}

async function appendLine(paths: PyroPaths, workspaceId: string, line: JournalLine): Promise<void> {
  // One write per line with O_APPEND: concurrent writers never interleave inside a line.
  await fs.appendFile(workspaceFiles(paths, workspaceId).journal, `${JSON.stringify(line)}\n`);
}

/**
 * Every entry in sequence order, the last line of each sequence winning; a torn last line (a
 * writer killed mid-append) is skipped, and a running entry whose owning process is gone is
 * `lost` (its command was ended with the connection that owned it).
 */
export async function readJournal(paths: PyroPaths, workspaceId: string): Promise<JournalEntry[]> {
  await readRecord(paths, workspaceId);
  const text = await fs
    .readFile(workspaceFiles(paths, workspaceId).journal, "utf8")
    .catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw new PyroError("WORKSPACE_CORRUPT", `cannot read the journal: ${error.message}`);
    });
  const bySequence = new Map<number, JournalEntry>();
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    let line: JournalLine;
    try {
      line = JSON.parse(raw) as JournalLine;
    } catch {
      continue; // a partial line from an interrupted append
    }
    const { owner_pid: owner, ...entry } = line;
    // Lines written before states existed are finished commands.
    entry.state ??= "finished";
    entry.stdout_bytes ??= Buffer.byteLength(entry.stdout ?? "");
    entry.stderr_bytes ??= Buffer.byteLength(entry.stderr ?? "");
    if (entry.state === "running" && owner !== undefined && !processAlive(owner)) {
      entry.state = "lost";
    }
    bySequence.set(entry.sequence, entry);
  }
  return [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
}

export interface OutputPage {
  stream: OutputStream;
  offset: number;
  next_offset: number;
  bytes: number;
  stored_bytes: number;
  total_bytes: number;
  eof: boolean;
  data: string;
}

/**
 * `limit` bytes of one stream of a command from `offset`, ending on a UTF-8 character boundary
 * so consecutive pages join into the exact output. `eof` once the stored output is read and the
 * command has ended.
 */
export async function readOutputPage(
  paths: PyroPaths,
  workspaceId: string,
  entry: JournalEntry,
  page: { stream: OutputStream; offset: number; limit: number },
): Promise<OutputPage> {
  const file = outputFile(paths, workspaceId, entry.sequence, page.stream);
  const handle = await fs.open(file, "r").catch(() => undefined);
  try {
    const stored = handle ? (await handle.stat()).size : 0;
    const total = page.stream === "stdout" ? entry.stdout_bytes : entry.stderr_bytes;
    if (page.offset > stored && entry.state !== "running") {
      throw new PyroError(
        "INVALID_ARGUMENT",
        `offset ${page.offset} is past the end of ${page.stream} of command ${entry.sequence} (${stored} bytes stored)`,
        { hint: `Pass --offset / offset from 0 to ${stored}.` },
      );
    }
    const want = Math.max(0, Math.min(page.limit, stored - page.offset));
    const buf = Buffer.alloc(want);
    const { bytesRead } =
      handle && want > 0 ? await handle.read(buf, 0, want, page.offset) : { bytesRead: 0 };
    const got = buf.subarray(0, bytesRead);
    // Do not cut a character in two unless the page cannot hold a whole one.
    const end = page.offset + bytesRead < stored ? utf8Boundary(got, got.length) : got.length;
    const used = end === 0 && got.length > 0 ? got.length : end;
    const next = page.offset + used;
    return {
      stream: page.stream,
      offset: page.offset,
      next_offset: next,
      bytes: used,
      stored_bytes: stored,
      total_bytes: Math.max(total, stored),
      eof: entry.state !== "running" && next >= stored,
      data: got.subarray(0, used).toString("utf8"),
    };
  } finally {
    await handle?.close();
  }
}

/** A listed entry: its previews cut to a few hundred characters each end. */
export function listedEntry(entry: JournalEntry): JournalEntry {
  const cut = (text: string, truncated: boolean): [string, boolean] =>
    text.length <= LIST_PREVIEW_CHARS
      ? [text, truncated]
      : [
          `${text.slice(0, LIST_PREVIEW_CHARS / 2)}\n[...]\n${text.slice(-LIST_PREVIEW_CHARS / 2)}`,
          true,
        ];
  const [stdout, stdoutTruncated] = cut(entry.stdout, entry.stdout_truncated);
  const [stderr, stderrTruncated] = cut(entry.stderr, entry.stderr_truncated);
  return {
    ...entry,
    stdout,
    stderr,
    stdout_truncated: stdoutTruncated,
    stderr_truncated: stderrTruncated,
  };
}

export { JOURNAL_STREAM_CAP_BYTES };
