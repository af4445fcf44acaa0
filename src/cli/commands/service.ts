import type { Command } from "commander";
import { SERVICE_DEFAULTS } from "../../contract.js";
import { invalidArgument } from "../../core/errors.js";
import type { ServiceRecord } from "../../core/workspace/services.js";
import type { ReadinessInput } from "../../core/workspace/shell-service-args.js";
import type { CliContext } from "../context.js";
import { printBlock, printJson, printLines, shellJoin } from "../output.js";
import { intOption } from "../parse.js";

type JsonFlag = { json?: boolean };

const example = (...lines: string[]) =>
  `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  ${l}`).join("\n")}`;

const summary = (prefix: string, r: ServiceRecord) =>
  printLines(
    process.stderr,
    `[${prefix}] workspace_id=${r.workspace_id} service_name=${r.service_name} state=${r.state}${r.pid ? ` pid=${r.pid}` : ""}${r.readiness ? ` readiness=${r.readiness.type}` : ""}${r.ready_at ? ` ready_at=${r.ready_at}` : ""}${r.exit_code !== null ? ` exit_code=${r.exit_code}` : ""}${r.stop_reason ? ` stop_reason=${r.stop_reason}` : ""} execution_mode=${r.execution_mode}`,
  );

/** `pyro workspace service ...`: named background processes with typed readiness. */
export function registerService(ws: Command, ctx: CliContext): void {
  const service = ws
    .command("service")
    .description("Named background services (dev servers, databases) with readiness probes.")
    .addHelpText(
      "after",
      example(
        "pyro workspace service start WORKSPACE_ID app --ready-file .ready -- sh -lc 'touch .ready && while true; do sleep 60; done'",
        "pyro workspace service logs WORKSPACE_ID app",
      ),
    );

  service
    .command("start")
    .description(
      "Start a named service and wait for its readiness probe; exits non-zero if it fails.",
    )
    .argument("<workspace-id>", "workspace id")
    .argument("<service-name>", "letters, digits, '.', '_', '-' (max 64)")
    .argument("[command...]", "the command, after `--`")
    .option("--cwd <path>", "working directory under /workspace (default /workspace)")
    .option("--ready-file <path>", "ready once this path exists (relative to --cwd, in /workspace)")
    .option("--ready-tcp <host:port>", "ready once a TCP connection to HOST:PORT succeeds")
    .option("--ready-http <url>", "ready once GET URL answers 2xx or 3xx (http:// only)")
    .option("--ready-command <cmd>", "ready once this shell command exits 0")
    .option(
      "--ready-timeout-seconds <n>",
      `how long to wait for readiness (default ${SERVICE_DEFAULTS.readyTimeoutSeconds})`,
      intOption,
    )
    .option(
      "--ready-interval-ms <n>",
      `time between probes (default ${SERVICE_DEFAULTS.readyIntervalMs})`,
      intOption,
    )
    .option("--json", "print the service record as JSON")
    .addHelpText(
      "after",
      example(
        "pyro workspace service start WORKSPACE_ID app --ready-file .ready -- sh -lc 'touch .ready && while true; do sleep 60; done'",
        "pyro workspace service start WORKSPACE_ID web --ready-http http://127.0.0.1:8000/ -- ./serve.sh",
      ),
    )
    .action(
      async (
        workspaceId: string,
        serviceName: string,
        words: string[],
        flags: JsonFlag & {
          cwd?: string;
          readyFile?: string;
          readyTcp?: string;
          readyHttp?: string;
          readyCommand?: string;
          readyTimeoutSeconds?: number;
          readyIntervalMs?: number;
        },
      ) =>
        ctx.run(flags.json, async () => {
          const probes: ReadinessInput[] = [];
          if (flags.readyFile !== undefined) probes.push({ type: "file", path: flags.readyFile });
          if (flags.readyTcp !== undefined) probes.push({ type: "tcp", address: flags.readyTcp });
          if (flags.readyHttp !== undefined) probes.push({ type: "http", url: flags.readyHttp });
          if (flags.readyCommand !== undefined)
            probes.push({ type: "command", command: flags.readyCommand });
          if (probes.length > 1) {
            throw invalidArgument(
              "give at most one of --ready-file, --ready-tcp, --ready-http and --ready-command",
              "Pick the probe that best says the service is ready, e.g. --ready-tcp 127.0.0.1:8080.",
            );
          }
          const record = await ctx.manager().startService(workspaceId, serviceName, {
            command: shellJoin(words),
            ...(flags.cwd !== undefined ? { cwd: flags.cwd } : {}),
            readiness: probes[0] ?? null,
            ...(flags.readyTimeoutSeconds !== undefined
              ? { readyTimeoutSeconds: flags.readyTimeoutSeconds }
              : {}),
            ...(flags.readyIntervalMs !== undefined
              ? { readyIntervalMs: flags.readyIntervalMs }
              : {}),
          });
          if (flags.json) return printJson(record);
          summary("workspace-service-start", record);
        }),
    );

  service
    .command("list")
    .description("List a workspace's services with their states.")
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace service list WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const list = await ctx.manager().listServices(workspaceId);
        if (flags.json) return printJson(list);
        if (list.count === 0) process.stdout.write("No services.\n");
        for (const s of list.services) {
          printLines(
            process.stdout,
            `${s.service_name}  ${s.state}${s.exit_code !== null ? ` (exit ${s.exit_code})` : ""}  ${s.command}`,
          );
        }
        printLines(
          process.stderr,
          `[workspace-service-list] workspace_id=${workspaceId} count=${list.count} running_count=${list.running_count}`,
        );
      }),
    );

  service
    .command("status")
    .description("Show one service's record: state, pid, readiness, exit code, stop reason.")
    .argument("<workspace-id>", "workspace id")
    .argument("<service-name>", "service name")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace service status WORKSPACE_ID app"))
    .action(async (workspaceId: string, serviceName: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const record = await ctx.manager().statusService(workspaceId, serviceName);
        if (flags.json) return printJson(record);
        const lines = [
          `Service: ${record.service_name}`,
          `State: ${record.state}`,
          `Command: ${record.command}`,
          `Cwd: ${record.cwd}`,
          `Readiness: ${record.readiness ? JSON.stringify(record.readiness) : "none"}`,
          `Started: ${record.started_at}`,
        ];
        if (record.pid) lines.push(`Pid: ${record.pid}`);
        if (record.ready_at) lines.push(`Ready at: ${record.ready_at}`);
        if (record.ended_at) lines.push(`Ended at: ${record.ended_at}`);
        if (record.exit_code !== null) lines.push(`Exit code: ${record.exit_code}`);
        if (record.stop_reason) lines.push(`Stop reason: ${record.stop_reason}`);
        if (record.failure_reason) lines.push(`Failure: ${record.failure_reason}`);
        printLines(process.stdout, ...lines);
      }),
    );

  service
    .command("logs")
    .description("Print a service's stdout (to stdout) and stderr (to stderr), kept apart.")
    .argument("<workspace-id>", "workspace id")
    .argument("<service-name>", "service name")
    .option(
      "--tail-lines <n>",
      `last lines of each stream (default ${SERVICE_DEFAULTS.tailLines})`,
      intOption,
    )
    .option("--all", "every line held (overrides --tail-lines)")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      example(
        "pyro workspace service logs WORKSPACE_ID app --tail-lines 50",
        "pyro workspace service logs WORKSPACE_ID app --all --json",
      ),
    )
    .action(
      async (
        workspaceId: string,
        serviceName: string,
        flags: JsonFlag & { tailLines?: number; all?: boolean },
      ) =>
        ctx.run(flags.json, async () => {
          const logs = await ctx.manager().logsService(workspaceId, serviceName, {
            ...(flags.tailLines !== undefined ? { tailLines: flags.tailLines } : {}),
            all: flags.all === true,
          });
          if (flags.json) return printJson(logs);
          // Stored output is shown escaped (newlines and tabs kept); --json gives the exact bytes.
          printBlock(process.stdout, logs.stdout);
          printBlock(process.stderr, logs.stderr);
        }),
    );

  service
    .command("stop")
    .description("Stop a service: TERM, then KILL after a 5 s grace period.")
    .argument("<workspace-id>", "workspace id")
    .argument("<service-name>", "service name")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace service stop WORKSPACE_ID app"))
    .action(async (workspaceId: string, serviceName: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const record = await ctx.manager().stopService(workspaceId, serviceName);
        if (flags.json) return printJson(record);
        summary("workspace-service-stop", record);
      }),
    );
}
