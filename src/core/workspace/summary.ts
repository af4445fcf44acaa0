import type { JournalEntry } from "./journal.js";
import { toPyroError } from "../errors.js";
import type { DiffPayload } from "./diff.js";
import type { WorkspaceRecord } from "./record.js";
import type { SnapshotListPayload } from "./snapshots.js";

/**
 * `workspace summary` (the original's 4.3): one bounded answer to "where am I?" for an agent that
 * comes back to a workspace: what it is, what changed since the baseline (paths only, at most
 * SUMMARY_LIMITS.changes), its snapshots, running services and shells, and the last commands
 * (command lines and exit codes, no output). Parts that need the VM are null with a note when it
 * is not running.
 */
export const SUMMARY_LIMITS = { changes: 50, commands: 10, commandChars: 200 } as const;

/** The manager calls a summary is made of (structural, so this module needs no manager import). */
export interface SummarySources {
  statusWorkspace(id: string): Promise<WorkspaceRecord & { execution_mode: string }>;
  diffWorkspace(id: string): Promise<DiffPayload>;
  listSnapshots(id: string): Promise<SnapshotListPayload>;
  listServices(id: string): Promise<{
    services: { service_name: string; state: string; command: string }[];
  }>;
  listShells(id: string): Promise<{ shells: { shell_id: string; state: string; cwd: string }[] }>;
  logsWorkspace(id: string): Promise<{
    count: number;
    entries: Pick<JournalEntry, "sequence" | "command" | "state" | "exit_code" | "started_at">[];
  }>;
}

export interface SummaryPayload {
  workspace_id: string;
  environment: string;
  state: string;
  execution_mode: string;
  created_at: string;
  expires_at: string;
  reset_count: number;
  last_reset_at: string | null;
  last_error: string | null;
  seed: { mode: string; seed_path: string | null };
  changes: {
    total: number;
    added: number;
    modified: number;
    deleted: number;
    type_changed: number;
    truncated: boolean;
    entries: { path: string; status: string; artifact_type: string }[];
  } | null;
  snapshots: { snapshot_name: string; kind: string; created_at: string }[];
  services: { service_name: string; state: string; command: string }[];
  shells: { shell_id: string; state: string; cwd: string }[];
  command_count: number;
  recent_commands: Pick<
    JournalEntry,
    "sequence" | "command" | "state" | "exit_code" | "started_at"
  >[];
  notes: string[];
}

const clip = (text: string) =>
  text.length > SUMMARY_LIMITS.commandChars
    ? `${text.slice(0, SUMMARY_LIMITS.commandChars - 1)}…`
    : text;

export async function summarizeWorkspace(
  sources: SummarySources,
  id: string,
): Promise<SummaryPayload> {
  const record = await sources.statusWorkspace(id);
  const notes: string[] = [];
  const running = record.state === "started" && record.execution_mode === "guest_agent";
  // Each part is optional: a part that cannot be read becomes a note, never a failed summary.
  const part = async <T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await read();
    } catch (error) {
      const typed = toPyroError(error);
      if (typed.code === "WORKSPACE_NOT_FOUND") throw typed;
      notes.push(`${what}: ${typed.code}: ${typed.message}`);
      return fallback;
    }
  };
  if (!running)
    notes.push(`the workspace is ${record.state}; changes, services and shells need it running`);
  const diff = running ? await part("changes", () => sources.diffWorkspace(id), null) : null;
  const snapshots = await part("snapshots", () => sources.listSnapshots(id), null);
  const services = running ? await part("services", () => sources.listServices(id), null) : null;
  const shells = running ? await part("shells", () => sources.listShells(id), null) : null;
  const logs = await part("commands", () => sources.logsWorkspace(id), null);
  const recent = (logs?.entries ?? []).slice(-SUMMARY_LIMITS.commands);
  return {
    workspace_id: id,
    environment: record.environment,
    state: record.state,
    execution_mode: record.execution_mode,
    created_at: record.created_at,
    expires_at: record.expires_at,
    reset_count: record.reset_count,
    last_reset_at: record.last_reset_at,
    last_error: record.last_error,
    seed: { mode: record.workspace_seed.mode, seed_path: record.workspace_seed.seed_path ?? null },
    changes: diff && {
      total: diff.summary.total,
      added: diff.summary.added,
      modified: diff.summary.modified,
      deleted: diff.summary.deleted,
      type_changed: diff.summary.type_changed,
      truncated: diff.entries.length > SUMMARY_LIMITS.changes,
      entries: diff.entries.slice(0, SUMMARY_LIMITS.changes).map((e) => ({
        path: e.path,
        status: e.status,
        artifact_type: e.artifact_type,
      })),
    },
    snapshots: (snapshots?.snapshots ?? []).map((s) => ({
      snapshot_name: s.snapshot_name,
      kind: s.kind,
      created_at: s.created_at,
    })),
    services: (services?.services ?? [])
      .filter((s) => s.state === "running" || s.state === "starting")
      .map((s) => ({ service_name: s.service_name, state: s.state, command: clip(s.command) })),
    shells: (shells?.shells ?? [])
      .filter((s) => s.state === "running")
      .map((s) => ({ shell_id: s.shell_id, state: s.state, cwd: s.cwd })),
    command_count: record.command_count,
    recent_commands: recent.map((e) => ({
      sequence: e.sequence,
      command: clip(e.command),
      state: e.state,
      exit_code: e.exit_code,
      started_at: e.started_at,
    })),
    notes,
  };
}
