import type { Command } from "commander";
import { DEFAULTS } from "../../contract.js";
import type { WorkspaceRecord } from "../../core/workspace/record.js";
import { DEFAULT_ENVIRONMENT } from "../../environments/catalog.js";
import type { CliContext } from "../context.js";
import { printBlock, printJson, printLines, shellJoin } from "../output.js";
import { intOption } from "../parse.js";
import { registerService } from "./service.js";
import { registerShell } from "./shell.js";
import { streamTo } from "../stream-output.js";

type JsonFlag = { json?: boolean };

const example = (...lines: string[]) =>
  `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  ${l}`).join("\n")}`;

/** The human summary block of create, status (and later reset). */
export function printWorkspaceSummary(r: WorkspaceRecord): void {
  const lines = [
    `Workspace ID: ${r.workspace_id}`,
    `Environment: ${r.environment}`,
    `State: ${r.state}`,
    `Workspace: ${r.workspace_path}`,
    `Execution mode: ${r.execution_mode}${r.accelerator ? ` (${r.accelerator})` : ""}`,
    ...(r.boot_path ? [`Boot path: ${r.boot_path}${r.boot_note ? ` (${r.boot_note})` : ""}`] : []),
    `Resources: ${r.vcpu_count} vCPU / ${r.mem_mib} MiB${r.network ? " / network" : ""}`,
    `Seed: ${r.workspace_seed.mode}${r.workspace_seed.seed_path ? ` ${r.workspace_seed.seed_path}` : ""} (${r.workspace_seed.entry_count} entries, ${r.workspace_seed.bytes_written} bytes)`,
    `Command count: ${r.command_count}`,
    `Reset count: ${r.reset_count}`,
  ];
  if (r.last_reset_at) lines.push(`Last reset at: ${r.last_reset_at}`);
  lines.push(`Services: ${r.running_service_count}/${r.service_count}`);
  lines.push(`Created: ${r.created_at}`, `Expires: ${r.expires_at}`);
  if (r.last_error) lines.push(`Last error: ${r.last_error}`);
  printLines(process.stdout, ...lines);
}

export function registerWorkspace(program: Command, ctx: CliContext): void {
  const ws = program
    .command("workspace")
    .description("Persistent workspaces: create, exec, sync, export, diff, status, logs, delete.")
    .addHelpText(
      "after",
      example(
        `pyro workspace create ${DEFAULT_ENVIRONMENT} --seed-path ./repo`,
        "pyro workspace exec WORKSPACE_ID -- git status",
      ),
    );

  ws.command("create")
    .description("Create and start a workspace, seeding /workspace from a directory or archive.")
    .argument("<environment>", `environment name, e.g. ${DEFAULT_ENVIRONMENT}`)
    .option("--vcpu-count <n>", `virtual CPUs (default ${DEFAULTS.vcpuCount})`, intOption)
    .option("--mem-mib <n>", `memory in MiB (default ${DEFAULTS.memMib})`, intOption)
    .option(
      "--ttl-seconds <n>",
      `seconds until the workspace expires and is removed (default ${DEFAULTS.ttlSeconds})`,
      intOption,
    )
    .option("--network", "give the guest user-mode network egress (default off)")
    .option(
      "--seed-path <path>",
      "host directory or .tar/.tar.gz/.tgz archive to seed /workspace from",
    )
    .option("--json", "print the workspace record as JSON")
    .addHelpText(
      "after",
      example(`pyro workspace create ${DEFAULT_ENVIRONMENT} --seed-path ./repo`),
    )
    .action(
      async (
        environment: string,
        flags: JsonFlag & {
          vcpuCount?: number;
          memMib?: number;
          ttlSeconds?: number;
          network?: boolean;
          seedPath?: string;
        },
      ) =>
        ctx.run(flags.json, async () => {
          const record = await ctx.manager().createWorkspace({
            environment,
            ...(flags.vcpuCount !== undefined ? { vcpuCount: flags.vcpuCount } : {}),
            ...(flags.memMib !== undefined ? { memMib: flags.memMib } : {}),
            ...(flags.ttlSeconds !== undefined ? { ttlSeconds: flags.ttlSeconds } : {}),
            network: flags.network === true,
            ...(flags.seedPath !== undefined ? { seedPath: flags.seedPath } : {}),
          });
          if (flags.json) printJson(record);
          else printWorkspaceSummary(record);
        }),
    );

  ws.command("exec")
    .description("Run one command in /workspace; output streams, exit status is the command's.")
    .argument("<workspace-id>", "workspace id")
    .argument("[command...]", "the command, after `--`")
    .option(
      "--timeout-seconds <n>",
      `command timeout (default ${DEFAULTS.timeoutSeconds})`,
      intOption,
    )
    .option("--json", "print one JSON object instead of streaming output")
    .addHelpText("after", example("pyro workspace exec WORKSPACE_ID -- sh -c 'make test'"))
    .action(
      async (workspaceId: string, words: string[], flags: JsonFlag & { timeoutSeconds?: number }) =>
        ctx.run(flags.json, async () => {
          const result = await ctx.manager().execWorkspace(workspaceId, {
            command: shellJoin(words),
            ...(flags.timeoutSeconds !== undefined ? { timeoutSeconds: flags.timeoutSeconds } : {}),
            ...(flags.json
              ? {}
              : {
                  onStdout: streamTo(process.stdout),
                  onStderr: streamTo(process.stderr),
                }),
          });
          if (flags.json) printJson(result);
          else
            printLines(
              process.stderr,
              `[workspace-exec] workspace_id=${workspaceId} sequence=${result.sequence} cwd=${result.cwd} execution_mode=${result.execution_mode} exit_code=${result.exit_code}${result.timed_out ? " timed_out=true" : ""} duration_ms=${result.duration_ms}`,
            );
          return result.exit_code;
        }),
    );

  ws.command("status")
    .description(
      "Show a workspace's record; a VM that died is reported as crashed with its last error.",
    )
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace status WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const record = await ctx.manager().statusWorkspace(workspaceId);
        if (flags.json) printJson(record);
        else printWorkspaceSummary(record);
      }),
    );

  ws.command("logs")
    .description("Show the command journal: every exec, in order.")
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace logs WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const logs = await ctx.manager().logsWorkspace(workspaceId);
        if (flags.json) return printJson(logs);
        if (logs.count === 0) process.stdout.write("No commands yet.\n");
        // Stored output is shown escaped (newlines and tabs kept); --json gives the exact bytes.
        for (const e of logs.entries) {
          printLines(
            process.stdout,
            `#${e.sequence} ${e.started_at} exit_code=${e.exit_code} duration_ms=${e.duration_ms}`,
            `$ ${e.command}`,
          );
          printBlock(process.stdout, e.stdout);
          if (e.stderr) printBlock(process.stderr, e.stderr);
        }
      }),
    );

  ws.command("list")
    .description("List workspaces with environment, state, creation and expiry.")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace list"))
    .action(async (flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const list = await ctx.manager().listWorkspaces();
        if (flags.json) return printJson(list);
        if (list.count === 0) process.stdout.write("No workspaces.\n");
        for (const w of list.workspaces) {
          printLines(
            process.stdout,
            `${w.workspace_id}  ${w.environment}  ${w.state}  created ${w.created_at}  expires ${w.expires_at}`,
          );
        }
        for (const u of list.unreadable)
          printLines(process.stderr, `unreadable workspace ${u.workspace_id}: ${u.problem}`);
      }),
    );

  ws.command("delete")
    .description("Stop the workspace's VM and remove all of its state.")
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace delete WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const result = await ctx.manager().deleteWorkspace(workspaceId);
        if (flags.json) printJson(result);
        else
          printLines(process.stderr, `[workspace-delete] workspace_id=${workspaceId} deleted=true`);
      }),
    );

  const sync = ws.command("sync").description("Copy host content into a running workspace.");
  sync
    .command("push")
    .description("Copy a host directory or archive into /workspace (the baseline stays as it was).")
    .argument("<workspace-id>", "workspace id")
    .argument("<source-path>", "host directory or .tar/.tar.gz/.tgz archive")
    .option("--dest <path>", "destination under /workspace (default /workspace)")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace sync push WORKSPACE_ID ./changes --dest src"))
    .action(async (workspaceId: string, source: string, flags: JsonFlag & { dest?: string }) =>
      ctx.run(flags.json, async () => {
        const result = await ctx
          .manager()
          .pushWorkspaceSync(
            workspaceId,
            source,
            flags.dest !== undefined ? { dest: flags.dest } : {},
          );
        if (flags.json) return printJson(result);
        const s = result.workspace_sync;
        printLines(
          process.stderr,
          `[workspace-sync] workspace_id=${workspaceId} mode=${s.mode} destination=${s.destination} entry_count=${s.entry_count} bytes_written=${s.bytes_written}`,
        );
      }),
    );

  ws.command("export")
    .description("Copy one file or directory from /workspace to the host.")
    .argument("<workspace-id>", "workspace id")
    .argument("<path>", "path under /workspace")
    .requiredOption("--output <host-path>", "where to write it on the host")
    .option("--overwrite", "replace an existing output")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      example("pyro workspace export WORKSPACE_ID src/note.txt --output ./note.txt"),
    )
    .action(
      async (
        workspaceId: string,
        guestPath: string,
        flags: JsonFlag & { output: string; overwrite?: boolean },
      ) =>
        ctx.run(flags.json, async () => {
          const result = await ctx.manager().exportWorkspace(workspaceId, guestPath, {
            outputPath: flags.output,
            overwrite: flags.overwrite === true,
          });
          if (flags.json) return printJson(result);
          printLines(
            process.stderr,
            `[workspace-export] workspace_id=${workspaceId} workspace_path=${result.workspace_path} output_path=${result.output_path} artifact_type=${result.artifact_type} entry_count=${result.entry_count} bytes_written=${result.bytes_written}`,
          );
        }),
    );

  const snapshot = ws
    .command("snapshot")
    .description("Named snapshots of /workspace (the create-time baseline is always there).");
  const printSnapshot = (
    prefix: string,
    p: {
      workspace_id: string;
      snapshot: {
        snapshot_name: string;
        kind: string;
        entry_count: number;
        size_bytes: number;
        created_at: string;
      };
    },
  ) =>
    printLines(
      process.stderr,
      `[${prefix}] workspace_id=${p.workspace_id} snapshot_name=${p.snapshot.snapshot_name} kind=${p.snapshot.kind} entry_count=${p.snapshot.entry_count} size_bytes=${p.snapshot.size_bytes} created_at=${p.snapshot.created_at}`,
    );
  snapshot
    .command("create")
    .description("Snapshot the live /workspace under a name.")
    .argument("<workspace-id>", "workspace id")
    .argument("<snapshot-name>", "letters, digits, '.', '_', '-' (max 64); 'baseline' is reserved")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace snapshot create WORKSPACE_ID checkpoint"))
    .action(async (workspaceId: string, name: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const result = await ctx.manager().createSnapshot(workspaceId, name);
        if (flags.json) printJson(result);
        else printSnapshot("workspace-snapshot-create", result);
      }),
    );
  snapshot
    .command("list")
    .description("List snapshots: baseline first, then named ones in creation order.")
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace snapshot list WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const result = await ctx.manager().listSnapshots(workspaceId);
        if (flags.json) return printJson(result);
        for (const s of result.snapshots) {
          printLines(
            process.stdout,
            `${s.snapshot_name}  ${s.kind}  entries=${s.entry_count} size_bytes=${s.size_bytes}  ${s.created_at}`,
          );
        }
      }),
    );
  snapshot
    .command("delete")
    .description("Delete a named snapshot.")
    .argument("<workspace-id>", "workspace id")
    .argument("<snapshot-name>", "snapshot name")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace snapshot delete WORKSPACE_ID checkpoint"))
    .action(async (workspaceId: string, name: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const result = await ctx.manager().deleteSnapshot(workspaceId, name);
        if (flags.json) printJson(result);
        else printSnapshot("workspace-snapshot-delete", result);
      }),
    );

  ws.command("reset")
    .description(
      "Rebuild the whole sandbox from the baseline or a snapshot; clears history, shells, services.",
    )
    .argument("<workspace-id>", "workspace id")
    .option("--snapshot <name>", "snapshot to restore (default: baseline)")
    .option("--json", "print the workspace record as JSON")
    .addHelpText(
      "after",
      example(
        "pyro workspace reset WORKSPACE_ID",
        "pyro workspace reset WORKSPACE_ID --snapshot checkpoint",
      ),
    )
    .action(async (workspaceId: string, flags: JsonFlag & { snapshot?: string }) =>
      ctx.run(flags.json, async () => {
        const record = await ctx
          .manager()
          .resetWorkspace(
            workspaceId,
            flags.snapshot !== undefined ? { snapshot: flags.snapshot } : {},
          );
        if (flags.json) printJson(record);
        else printWorkspaceSummary(record);
      }),
    );

  ws.command("stop")
    .description(
      "Save the running VM with its memory and end it; `start` resumes processes, shells and services.",
    )
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print the workspace record as JSON")
    .addHelpText("after", example("pyro workspace stop WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const record = await ctx.manager().stopWorkspace(workspaceId);
        if (flags.json) printJson(record);
        else printWorkspaceSummary(record);
      }),
    );

  ws.command("start")
    .description("Resume a stopped workspace where it was: processes, shells and services go on.")
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print the workspace record as JSON")
    .addHelpText("after", example("pyro workspace start WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const record = await ctx.manager().startWorkspace(workspaceId);
        if (flags.json) printJson(record);
        else printWorkspaceSummary(record);
      }),
    );

  ws.command("diff")
    .description("Compare /workspace with the immutable create-time baseline.")
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace diff WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const diff = await ctx.manager().diffWorkspace(workspaceId);
        if (flags.json) return printJson(diff);
        if (!diff.changed) process.stdout.write("No changes since the baseline.\n");
        // Names and contents are the guest's: escaped here, exact with --json.
        printBlock(process.stdout, diff.patch);
        for (const e of diff.entries.filter((x) => !x.text_patch))
          printLines(process.stdout, `${e.status} ${e.artifact_type} ${e.path}`);
        const s = diff.summary;
        printLines(
          process.stderr,
          `[workspace-diff] workspace_id=${workspaceId} changed=${diff.changed} total=${s.total} added=${s.added} modified=${s.modified} deleted=${s.deleted} type_changed=${s.type_changed}`,
        );
      }),
    );

  registerShell(ws, ctx);
  registerService(ws, ctx);
}
