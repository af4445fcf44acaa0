import { z } from "zod";
import { outputFields } from "./output-fields.js";
import { DEFAULT_ENVIRONMENT } from "../environments/catalog.js";
import { defineOperation, managerOptions, type HumanOutput, HINTS } from "./define.js";
import { commandString, fields, guestSpec } from "./fields.js";
import { block, lines } from "./human.js";
import { hostCompatWarning } from "./vm.js";
import {
  identityFields,
  labelFlag,
  labelsFromFlags,
  secretEnvFlag,
  secretEnvFromFlags,
  secretFlags,
  secretsFromFlags,
} from "./identity.js";
import {
  resetResult,
  diffResult,
  execResult,
  exportResult,
  syncResult,
  workspaceDeleted,
  workspaceList,
  workspaceLogs,
  workspaceRecord,
} from "./payloads.js";

const byId = { workspace_id: fields.workspaceId };

const glob = z.string().min(1).max(256);
/** Path filters of diff (src/core/workspace/path-filter.ts has the rules). */
const diffFilters = {
  include: z
    .array(glob)
    .max(64)
    .describe(
      "Only paths matching one of these globs, relative to /workspace: 'src/**', '*.py' (a glob without '/' matches any path component).",
    )
    .optional(),
  exclude: z
    .array(glob)
    .max(64)
    .describe("Leave out paths matching any of these globs, e.g. '__pycache__', 'build/**'.")
    .optional(),
  snapshot: fields.snapshotName
    .describe("Compare with this named snapshot instead of the baseline (default baseline).")
    .optional(),
};

/** The human summary block of create, status and reset. */
export function printWorkspaceSummary(r: z.output<typeof workspaceRecord>): HumanOutput {
  const out = [
    `Workspace ID: ${r.workspace_id}`,
    ...(r.name ? [`Name: ${r.name}`] : []),
    ...(r.labels && Object.keys(r.labels).length > 0
      ? [
          `Labels: ${Object.entries(r.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")}`,
        ]
      : []),
    ...(r.secrets && r.secrets.length > 0
      ? [`Secrets: ${r.secrets.map((x) => x.name).join(", ")}`]
      : []),
    `Environment: ${r.environment}`,
    `State: ${r.state}`,
    `Workspace: ${r.workspace_path}`,
    `Execution mode: ${r.execution_mode}${r.accelerator ? ` (${r.accelerator})` : ""}`,
    ...(r.boot_path ? [`Boot path: ${r.boot_path}${r.boot_note ? ` (${r.boot_note})` : ""}`] : []),
    `Resources: ${r.vcpu_count} vCPU / ${r.mem_mib} MiB${r.network ? " / network" : ""}`,
    `Network policy: ${r.network_policy}`,
    `Seed: ${r.workspace_seed.mode}${r.workspace_seed.seed_path ? ` ${r.workspace_seed.seed_path}` : ""} (${r.workspace_seed.entry_count} entries, ${r.workspace_seed.bytes_written} bytes)`,
    `Command count: ${r.command_count}`,
    `Reset count: ${r.reset_count}`,
  ];
  if (r.last_reset_at) out.push(`Last reset at: ${r.last_reset_at}`);
  out.push(`Services: ${r.running_service_count}/${r.service_count}`);
  out.push(`Created: ${r.created_at}`, `Expires: ${r.expires_at}`);
  if (r.last_error) out.push(`Last error: ${r.last_error}`);
  return { stdout: lines(...out), stderr: hostCompatWarning(r.execution_mode) };
}

export const createWorkspace = defineOperation({
  sdk: "createWorkspace",
  mcp: {
    tool: "workspace_create",
    title: "Create a workspace",
    profiles: ["workspace-core"],
    hidden: { "workspace-core": ["network", "allow_host_compat"] },
  },
  cli: {
    path: ["workspace", "create"],
    args: ["environment"],
    extra: {
      options: [labelFlag, ...secretFlags],
      fold: (values) => ({ ...labelsFromFlags(values), ...secretsFromFlags(values) }),
    },
    examples: [
      `pyro workspace create ${DEFAULT_ENVIRONMENT} --seed-path ./repo`,
      `pyro workspace create ${DEFAULT_ENVIRONMENT} --name repro-fix --label issue=123 --secret API_TOKEN=...`,
    ],
  },
  description:
    "Create and start a persistent workspace: a microVM with /workspace seeded from a host directory or .tar/.tar.gz/.tgz archive, and an immutable create-time baseline for diff and reset. Use it when several commands must share files, processes or shells. On a host that cannot boot a guest it is refused unless allow_host_compat is set (then it runs on the host with no isolation; only exec, status, logs and delete work).",
  hints: HINTS.add,
  input: {
    ...guestSpec,
    network_policy: fields.networkPolicy.optional(),
    seed_path: z
      .string()
      .describe("Host directory or .tar/.tar.gz/.tgz archive to seed /workspace from.")
      .optional(),
    name: identityFields.name.optional(),
    labels: identityFields.labels.optional(),
    secrets: identityFields.secrets.optional(),
  },
  output: workspaceRecord,
  run: (manager, input) => manager.createWorkspace(managerOptions(input)),
  print: printWorkspaceSummary,
});

export const statusWorkspace = defineOperation({
  sdk: "statusWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_status", title: "Workspace status", profiles: ["workspace-core"] },
  cli: {
    path: ["workspace", "status"],
    args: ["workspace_id"],
    examples: ["pyro workspace status WORKSPACE_ID"],
  },
  description:
    "Return one workspace's record: state, resources, seed, command count, reset count, expiry and last error. A VM that died is reported as crashed with its last error.",
  hints: HINTS.read,
  input: byId,
  output: workspaceRecord,
  run: (manager, input) => manager.statusWorkspace(input.workspace_id),
  print: printWorkspaceSummary,
});

export const listWorkspaces = defineOperation({
  sdk: "listWorkspaces",
  mcp: { tool: "workspace_list", title: "List workspaces", profiles: ["workspace-core"] },
  cli: {
    path: ["workspace", "list"],
    extra: { options: [labelFlag], fold: labelsFromFlags },
    examples: ["pyro workspace list", "pyro workspace list --label issue=123"],
  },
  description:
    "List workspaces with their name, labels, environment, state, creation and expiry times (expired ones are removed first); labels keeps only those carrying every given label.",
  hints: HINTS.read,
  input: {
    labels: identityFields.labels
      .describe("Only workspaces with every one of these KEY: VALUE labels.")
      .optional(),
  },
  output: workspaceList,
  run: (manager, input) => manager.listWorkspaces(managerOptions(input)),
  print: (list) => {
    let stdout = list.count === 0 ? "No workspaces.\n" : "";
    let stderr = "";
    for (const w of list.workspaces) {
      stdout += lines(
        `${w.workspace_id}  ${w.name ?? "-"}  ${w.environment}  ${w.state}  created ${w.created_at}  expires ${w.expires_at}${Object.entries(
          w.labels ?? {},
        )
          .map(([k, v]) => `  ${k}=${v}`)
          .join("")}`,
      );
    }
    for (const u of list.unreadable)
      stderr += lines(`unreadable workspace ${u.workspace_id}: ${u.problem}`);
    return { stdout, stderr };
  },
});

export const execWorkspace = defineOperation({
  sdk: "execWorkspace",
  sdkArgs: ["workspace_id"],
  hooks: ["onStdout", "onStderr", "signal", "onCommandProgress"],
  mcp: {
    tool: "workspace_exec",
    title: "Run a command in a workspace",
    profiles: ["workspace-core"],
  },
  cli: {
    path: ["workspace", "exec"],
    args: ["workspace_id"],
    tail: "command",
    extra: { options: [secretEnvFlag], fold: secretEnvFromFlags },
    examples: [
      "pyro workspace exec WORKSPACE_ID -- sh -c 'make test'",
      `pyro workspace exec WORKSPACE_ID --secret-env API_TOKEN -- sh -c 'test -n "$API_TOKEN"'`,
    ],
    // The command lives as long as the calling process: a CLI that returned early would end it.
    omit: ["wait_seconds"],
  },
  description:
    'Run one shell command inside /workspace of a running workspace and return stdout, stderr and exit code; recorded in the command journal with its full output. The result keeps the head and tail of each stream (max_output_bytes); page the rest with workspace_logs and the sequence. A command still running after wait_seconds returns state "running": poll workspace_logs with its sequence and wait_seconds. For interactive or long-lived state use a shell; for background processes use a service.',
  hints: HINTS.add,
  input: {
    ...byId,
    command: commandString("One shell command string, run with /bin/sh -c in /workspace."),
    timeout_seconds: fields.timeoutSeconds.optional(),
    max_output_bytes: outputFields.maxOutputBytes.optional(),
    wait_seconds: outputFields.waitSeconds.optional(),
    secret_env: identityFields.secretEnv.optional(),
  },
  output: execResult,
  run: (manager, input, hooks) =>
    manager.execWorkspace(input.workspace_id, {
      ...managerOptions(input, ["workspace_id"]),
      ...hooks,
    }),
  exitCode: (result) => result.exit_code ?? 1,
  print: (result) => ({
    stderr: `${hostCompatWarning(result.execution_mode)}${lines(
      `[workspace-exec] workspace_id=${result.workspace_id} sequence=${result.sequence} cwd=${result.cwd} execution_mode=${result.execution_mode} state=${result.state} exit_code=${result.exit_code}${result.timed_out ? " timed_out=true" : ""} duration_ms=${result.duration_ms}`,
    )}`,
  }),
});

export const logsWorkspace = defineOperation({
  sdk: "logsWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_logs", title: "Workspace command history", profiles: ["workspace-core"] },
  cli: {
    path: ["workspace", "logs"],
    args: ["workspace_id"],
    examples: [
      "pyro workspace logs WORKSPACE_ID",
      "pyro workspace logs WORKSPACE_ID --sequence 3 --offset 65536 --limit 65536",
    ],
  },
  description:
    "Return the persisted command history (journal) of one workspace, in sequence order: every exec since create or the last reset (the last 50, with short output previews). With sequence: that command's entry (state running, finished or lost) and a page of its full output from offset (next_offset continues); wait_seconds waits for a running command to end.",
  hints: HINTS.read,
  input: {
    ...byId,
    sequence: outputFields.sequence.optional(),
    stream: outputFields.stream.optional(),
    offset: outputFields.offset.optional(),
    limit: outputFields.limit.optional(),
    wait_seconds: outputFields.logsWaitSeconds.optional(),
  },
  output: workspaceLogs,
  run: (manager, input) =>
    manager.logsWorkspace(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (logs) => {
    let stdout = logs.count === 0 ? "No commands yet.\n" : "";
    let stderr = "";
    // Stored output is shown escaped (newlines and tabs kept); --json gives the exact bytes.
    if (logs.page) {
      // One command's page, escaped like all stored output (--json has the exact text).
      const p = logs.page;
      const e = logs.entries[0];
      return {
        stdout: block(p.data),
        stderr: lines(
          `[workspace-logs] sequence=${e?.sequence ?? ""} state=${e?.state ?? ""} exit_code=${e?.exit_code ?? ""} stream=${p.stream} offset=${p.offset} next_offset=${p.next_offset} stored_bytes=${p.stored_bytes} total_bytes=${p.total_bytes} eof=${p.eof}`,
        ),
      };
    }
    if (logs.omitted_count > 0) stderr += lines(`(${logs.omitted_count} older commands not shown)`);
    for (const e of logs.entries) {
      stdout += lines(
        `#${e.sequence} ${e.started_at} state=${e.state} exit_code=${e.exit_code} duration_ms=${e.duration_ms}`,
        `$ ${e.command}`,
      );
      stdout += block(e.stdout);
      stderr += block(e.stderr);
    }
    return { stdout, stderr };
  },
});

export const deleteWorkspace = defineOperation({
  sdk: "deleteWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_delete", title: "Delete a workspace", profiles: ["workspace-core"] },
  cli: {
    path: ["workspace", "delete"],
    args: ["workspace_id"],
    examples: ["pyro workspace delete WORKSPACE_ID"],
  },
  description:
    "Stop a workspace's VM and remove all of its state (disk, snapshots, history). Use it when the work is done; export what you need first.",
  hints: HINTS.destroy,
  input: byId,
  output: workspaceDeleted,
  run: (manager, input) => manager.deleteWorkspace(input.workspace_id),
  print: (r) => ({
    stderr: lines(`[workspace-delete] workspace_id=${r.workspace_id} deleted=true`),
  }),
});

export const pushWorkspaceSync = defineOperation({
  sdk: "pushWorkspaceSync",
  sdkArgs: ["workspace_id", "source_path"],
  mcp: {
    tool: "workspace_sync_push",
    title: "Copy host files into a workspace",
    profiles: ["workspace-core"],
  },
  cli: {
    path: ["workspace", "sync", "push"],
    args: ["workspace_id", "source_path"],
    examples: ["pyro workspace sync push WORKSPACE_ID ./changes --dest src"],
  },
  description:
    "Copy a host directory or tar archive into a running workspace (dest resolves under /workspace). The baseline is unchanged, so workspace diff shows the push.",
  hints: HINTS.update,
  input: {
    ...byId,
    source_path: z.string().describe("Host directory or .tar/.tar.gz/.tgz archive."),
    dest: z.string().describe("Destination under /workspace (default /workspace).").optional(),
  },
  output: syncResult,
  run: (manager, input) =>
    manager.pushWorkspaceSync(
      input.workspace_id,
      input.source_path,
      managerOptions(input, ["workspace_id", "source_path"]),
    ),
  print: (result) => {
    const s = result.workspace_sync;
    return {
      stderr: lines(
        `[workspace-sync] workspace_id=${result.workspace_id} mode=${s.mode} destination=${s.destination} entry_count=${s.entry_count} bytes_written=${s.bytes_written}`,
      ),
    };
  },
});

export const exportWorkspace = defineOperation({
  sdk: "exportWorkspace",
  sdkArgs: ["workspace_id", "path"],
  mcp: {
    tool: "workspace_export",
    title: "Export from a workspace to the host",
    profiles: ["workspace-core"],
  },
  cli: {
    path: ["workspace", "export"],
    args: ["workspace_id", "path"],
    flags: { output_path: "--output" },
    examples: ["pyro workspace export WORKSPACE_ID src/note.txt --output ./note.txt"],
  },
  description:
    "Export one file or directory from /workspace back to the host. Use it to keep results before reset or delete.",
  hints: HINTS.add,
  input: {
    ...byId,
    path: z.string().describe("Path under /workspace, e.g. src/note.txt."),
    output_path: z.string().describe("Host path to write; must not exist unless overwrite is set."),
    overwrite: z.boolean().describe("Replace an existing output (default false).").optional(),
  },
  output: exportResult,
  run: (manager, input) =>
    manager.exportWorkspace(
      input.workspace_id,
      input.path,
      managerOptions(input, ["workspace_id", "path"]),
    ),
  print: (result) => ({
    stderr: lines(
      `[workspace-export] workspace_id=${result.workspace_id} workspace_path=${result.workspace_path} output_path=${result.output_path} artifact_type=${result.artifact_type} entry_count=${result.entry_count} bytes_written=${result.bytes_written}`,
    ),
  }),
});

export const diffWorkspace = defineOperation({
  sdk: "diffWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: {
    tool: "workspace_diff",
    title: "Diff a workspace against its baseline",
    profiles: ["workspace-core"],
    hidden: { "workspace-core": ["snapshot"] },
  },
  cli: {
    path: ["workspace", "diff"],
    args: ["workspace_id"],
    examples: [
      "pyro workspace diff WORKSPACE_ID",
      "pyro workspace diff WORKSPACE_ID --exclude __pycache__ --exclude 'build/**'",
      "pyro workspace diff WORKSPACE_ID --snapshot checkpoint",
    ],
  },
  description:
    "Compare /workspace with the immutable create-time baseline: added, modified, deleted and type-changed paths, with unified patches for text files. Use it to review what commands changed; include/exclude globs leave out noise such as __pycache__ or build output, and snapshot compares with a named snapshot instead.",
  hints: HINTS.read,
  input: { ...byId, ...diffFilters },
  output: diffResult,
  run: (manager, input) =>
    manager.diffWorkspace(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (diff) => {
    let stdout = diff.changed ? "" : "No changes since the baseline.\n";
    // Names and contents are the guest's: escaped here, exact with --json.
    stdout += block(diff.patch);
    for (const e of diff.entries.filter((x) => !x.text_patch))
      stdout += lines(`${e.status} ${e.artifact_type} ${e.path}`);
    const s = diff.summary;
    return {
      stdout,
      stderr: lines(
        `[workspace-diff] workspace_id=${diff.workspace_id} changed=${diff.changed} total=${s.total} added=${s.added} modified=${s.modified} deleted=${s.deleted} type_changed=${s.type_changed}`,
      ),
    };
  },
});

export const resetWorkspace = defineOperation({
  sdk: "resetWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: {
    tool: "workspace_reset",
    title: "Reset a workspace",
    profiles: ["workspace-core"],
    hidden: { "workspace-core": ["snapshot"] },
  },
  cli: {
    path: ["workspace", "reset"],
    args: ["workspace_id"],
    examples: [
      "pyro workspace reset WORKSPACE_ID",
      "pyro workspace reset WORKSPACE_ID --snapshot checkpoint",
    ],
  },
  description:
    "Rebuild the whole sandbox from the baseline or a named snapshot instead of repairing it: new VM and root filesystem, /workspace restored, command history, shells and services cleared. The id, baseline and snapshots are kept. Also recovers a crashed workspace.",
  hints: HINTS.destroyIdempotent,
  input: {
    ...byId,
    snapshot: fields.snapshotName.describe("Snapshot to restore (default: baseline).").optional(),
  },
  output: resetResult,
  run: (manager, input) =>
    manager.resetWorkspace(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (record) => ({
    stdout: printWorkspaceSummary(record).stdout,
    stderr: lines(
      `[workspace-reset] workspace_id=${record.workspace_id} restored_snapshot=${record.restored_snapshot} reset_count=${record.reset_count}`,
    ),
  }),
});

export const stopWorkspace = defineOperation({
  sdk: "stopWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_stop", title: "Stop a workspace, keeping its memory" },
  cli: {
    path: ["workspace", "stop"],
    args: ["workspace_id"],
    examples: ["pyro workspace stop WORKSPACE_ID"],
  },
  description:
    "Save a running workspace's whole VM (memory, processes, shells, services) beside its disks and end it: state stopped, no CPU, listed and counted; the TTL still runs. workspace_start resumes it where it was; reset and delete work on it. Stopping a stopped workspace does nothing.",
  hints: HINTS.update,
  input: byId,
  output: workspaceRecord,
  run: (manager, input) => manager.stopWorkspace(input.workspace_id),
  print: printWorkspaceSummary,
});

export const startWorkspace = defineOperation({
  sdk: "startWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_start", title: "Start a stopped workspace" },
  cli: {
    path: ["workspace", "start"],
    args: ["workspace_id"],
    examples: ["pyro workspace start WORKSPACE_ID"],
  },
  description:
    "Resume a stopped workspace where it was: the same VM with its processes, shells and services, the clock set and fresh entropy. Starting a running workspace does nothing; a workspace whose saved state is unusable is marked crashed (reset recovers it).",
  hints: HINTS.update,
  input: byId,
  output: workspaceRecord,
  run: (manager, input) => manager.startWorkspace(input.workspace_id),
  print: printWorkspaceSummary,
});
