import { z } from "zod";
import { SUMMARY_LIMITS } from "../core/workspace/summary.js";
import { defineOperation, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { lines } from "./human.js";

/** `workspace summary` (the original's 4.3): where an agent stands in one bounded answer. */
const count = z.number().int();

export const summaryResult = z
  .object({
    workspace_id: z.string(),
    environment: z.string(),
    state: z.string(),
    execution_mode: z.string(),
    created_at: z.string(),
    expires_at: z.string(),
    reset_count: count,
    last_reset_at: z.string().nullable(),
    last_error: z.string().nullable(),
    seed: z.object({ mode: z.string(), seed_path: z.string().nullable() }).strict(),
    changes: z
      .object({
        total: count,
        added: count,
        modified: count,
        deleted: count,
        type_changed: count,
        truncated: z.boolean(),
        entries: z.array(
          z.object({ path: z.string(), status: z.string(), artifact_type: z.string() }).strict(),
        ),
      })
      .strict()
      .nullable(),
    snapshots: z.array(
      z.object({ snapshot_name: z.string(), kind: z.string(), created_at: z.string() }).strict(),
    ),
    services: z.array(
      z.object({ service_name: z.string(), state: z.string(), command: z.string() }).strict(),
    ),
    shells: z.array(
      z.object({ shell_id: z.string(), state: z.string(), cwd: z.string() }).strict(),
    ),
    command_count: count,
    recent_commands: z.array(
      z
        .object({
          sequence: count,
          command: z.string(),
          state: z.enum(["running", "finished", "lost"]),
          exit_code: z.number().int().nullable(),
          started_at: z.string(),
        })
        .strict(),
    ),
    notes: z.array(z.string()),
  })
  .strict();

export const summarizeWorkspace = defineOperation({
  sdk: "summarizeWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_summary", title: "Summarize a workspace", profiles: ["workspace-core"] },
  cli: {
    path: ["workspace", "summary"],
    args: ["workspace_id"],
    examples: ["pyro workspace summary WORKSPACE_ID"],
  },
  description: `One bounded overview of a workspace, for picking up where you left off: what it is (environment, state, seed, resets), what changed since the baseline (paths only, at most ${SUMMARY_LIMITS.changes}; workspace diff gives patches), snapshots, running services and shells, and the last ${SUMMARY_LIMITS.commands} commands with exit codes (workspace logs gives output).`,
  hints: HINTS.read,
  input: { workspace_id: fields.workspaceId },
  output: summaryResult,
  run: (manager, input) => manager.summarizeWorkspace(input.workspace_id),
  print: (s) => {
    const out = [
      `Workspace ID: ${s.workspace_id}`,
      `Environment: ${s.environment}`,
      `State: ${s.state} (${s.execution_mode})`,
      `Seed: ${s.seed.mode}${s.seed.seed_path ? ` ${s.seed.seed_path}` : ""}`,
      `Resets: ${s.reset_count}${s.last_reset_at ? ` (last ${s.last_reset_at})` : ""}`,
    ];
    if (s.changes) {
      const c = s.changes;
      out.push(
        `Changes since baseline: ${c.total} (added ${c.added}, modified ${c.modified}, deleted ${c.deleted}, type changed ${c.type_changed})`,
        ...c.entries.map((e) => `  ${e.status} ${e.artifact_type} ${e.path}`),
        ...(c.truncated ? [`  ... ${c.total - c.entries.length} more (workspace diff)`] : []),
      );
    }
    out.push(`Snapshots: ${s.snapshots.map((x) => x.snapshot_name).join(", ") || "none"}`);
    out.push(
      `Services running: ${s.services.map((x) => x.service_name).join(", ") || "none"}`,
      `Shells running: ${s.shells.map((x) => x.shell_id).join(", ") || "none"}`,
      `Commands: ${s.command_count}`,
      ...s.recent_commands.map(
        (e) =>
          `  #${e.sequence} ${e.state === "finished" ? `exit_code=${e.exit_code}` : e.state} $ ${e.command}`,
      ),
    );
    if (s.last_error) out.push(`Last error: ${s.last_error}`);
    return { stdout: lines(...out), stderr: lines(...s.notes.map((n) => `note: ${n}`)) };
  },
});
