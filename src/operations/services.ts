import { identityFields, secretEnvFlag, secretEnvFromFlags } from "./identity.js";
import { z } from "zod";
import { SERVICE_DEFAULTS } from "../contract.js";
import { invalidArgument } from "../core/errors.js";
import { SHELL_SERVICE_LIMITS, type ReadinessInput } from "../core/workspace/shell-service-args.js";
import { defineOperation, managerOptions, type HumanOutput, HINTS } from "./define.js";
import { commandString, fields, wholeNumber } from "./fields.js";
import { block, lines } from "./human.js";
import {
  GUEST_PORT_RANGE,
  HOST_PORT_RANGE,
  MAX_PUBLISHED_PORTS,
  parsePublishFlag,
  type PortRequest,
} from "../core/network/ports.js";
import { readinessInput, serviceList, serviceLogs, serviceRecord } from "./payloads.js";

/** `127.0.0.1:8080->8000,127.0.0.1:8081->9000`: where a service is published. */
const publishedText = (ports: readonly { host: string; host_port: number; guest_port: number }[]) =>
  ports.map((p) => `${p.host}:${p.host_port}->${p.guest_port}`).join(",");

/** `--publish` values (repeatable) become the `published_ports` field. */
function publishFromFlags(values: string | string[] | undefined): {
  published_ports?: PortRequest[];
} {
  if (values === undefined) return {};
  return { published_ports: (Array.isArray(values) ? values : [values]).map(parsePublishFlag) };
}

const byName = { workspace_id: fields.workspaceId, service_name: fields.serviceName };
const serviceArgs = ["workspace_id", "service_name"] as const;

function summary(prefix: string, r: z.output<typeof serviceRecord>): HumanOutput {
  return {
    stderr: lines(
      `[${prefix}] workspace_id=${r.workspace_id} service_name=${r.service_name} state=${r.state}${r.pid ? ` pid=${r.pid}` : ""}${r.readiness ? ` readiness=${r.readiness.type}` : ""}${r.ready_at ? ` ready_at=${r.ready_at}` : ""}${r.exit_code !== null ? ` exit_code=${r.exit_code}` : ""}${r.stop_reason ? ` stop_reason=${r.stop_reason}` : ""}${r.published_ports.length > 0 ? ` published=${publishedText(r.published_ports)}` : ""} execution_mode=${r.execution_mode}`,
    ),
  };
}

/** The CLI's four readiness flags become the one `readiness` field. */
function readinessFromFlags(values: Record<string, string | undefined>): {
  readiness?: ReadinessInput | null;
} {
  const probes: ReadinessInput[] = [];
  if (values.readyFile !== undefined) probes.push({ type: "file", path: values.readyFile });
  if (values.readyTcp !== undefined) probes.push({ type: "tcp", address: values.readyTcp });
  if (values.readyHttp !== undefined) probes.push({ type: "http", url: values.readyHttp });
  if (values.readyCommand !== undefined)
    probes.push({ type: "command", command: values.readyCommand });
  if (probes.length > 1) {
    throw invalidArgument(
      "give at most one of --ready-file, --ready-tcp, --ready-http and --ready-command",
      "Pick the probe that best says the service is ready, e.g. --ready-tcp 127.0.0.1:8080.",
    );
  }
  return probes[0] ? { readiness: probes[0] } : {};
}

export const startService = defineOperation({
  sdk: "startService",
  sdkArgs: serviceArgs,
  mcp: { tool: "service_start", title: "Start a background service" },
  cli: {
    path: ["workspace", "service", "start"],
    args: serviceArgs,
    tail: "command",
    extra: {
      options: [
        {
          flag: "--ready-file <path>",
          description: "ready once this path exists (relative to --cwd, in /workspace)",
          field: "readiness",
        },
        {
          flag: "--ready-tcp <host:port>",
          description: "ready once a TCP connection to HOST:PORT succeeds",
          field: "readiness",
        },
        {
          flag: "--ready-http <url>",
          description: "ready once GET URL answers 2xx or 3xx (http:// only)",
          field: "readiness",
        },
        {
          flag: "--ready-command <cmd>",
          description: "ready once this shell command exits 0",
          field: "readiness",
        },
        {
          flag: "--publish <port>",
          description:
            "publish HOST_PORT:GUEST_PORT (or GUEST_PORT, for a free host port) on 127.0.0.1; repeatable; needs --network-policy egress+published-ports",
          field: "published_ports",
          repeatable: true,
        },
        secretEnvFlag,
      ],
      fold: (values) => ({
        // The readiness flags are not repeatable: each is one string or absent.
        ...readinessFromFlags(values as Record<string, string | undefined>),
        ...publishFromFlags(values.publish),
        ...secretEnvFromFlags(values),
      }),
    },
    examples: [
      "pyro workspace service start WORKSPACE_ID app --ready-file .ready -- sh -lc 'touch .ready && while true; do sleep 60; done'",
      "pyro workspace service start WORKSPACE_ID web --ready-http http://127.0.0.1:8000/ -- ./serve.sh",
      "pyro workspace service start WORKSPACE_ID web --publish 8080:8000 --ready-tcp 127.0.0.1:8000 -- ./serve.sh",
    ],
  },
  description:
    'Start a named background service (one shell command: a dev server, a database) and wait for its readiness probe; a probe that times out or a process that exits first is an error with the reason and the log tail. Example readiness: {"type":"tcp","address":"127.0.0.1:8080"}.',
  hints: HINTS.add,
  input: {
    ...byName,
    command: commandString("One shell command string, run with /bin/sh -c."),
    cwd: fields.guestCwd.optional(),
    readiness: readinessInput
      .nullable()
      .describe(
        "Probe: file (path relative to cwd, under /workspace), tcp (HOST:PORT), http (http:// URL, 2xx/3xx), or command (exit 0). Without one, the service is running once it survived one interval.",
      )
      .optional(),
    ready_timeout_seconds: wholeNumber(
      SHELL_SERVICE_LIMITS.readyTimeoutSeconds,
      `How long to wait for readiness, in seconds (default ${SERVICE_DEFAULTS.readyTimeoutSeconds}).`,
    ).optional(),
    ready_interval_ms: wholeNumber(
      SHELL_SERVICE_LIMITS.readyIntervalMs,
      `Time between probes in ms (default ${SERVICE_DEFAULTS.readyIntervalMs}).`,
    ).optional(),
    secret_env: identityFields.secretEnv.optional(),
    published_ports: z
      .array(
        z
          .object({
            host_port: wholeNumber(
              HOST_PORT_RANGE,
              "Port on the host's 127.0.0.1; omit or null for a free one.",
            )
              .nullable()
              .optional(),
            guest_port: wholeNumber(
              GUEST_PORT_RANGE,
              "Port the service listens on in the guest (on 0.0.0.0 or 10.0.2.15).",
            ),
          })
          .strict(),
      )
      .max(MAX_PUBLISHED_PORTS)
      .describe(
        'Publish these guest ports on the host\'s 127.0.0.1 while the service runs (network policy egress+published-ports only); removed when it stops or fails. Example: [{"host_port":8080,"guest_port":8000}].',
      )
      .optional(),
  },
  output: serviceRecord,
  run: (manager, input) =>
    manager.startService(
      input.workspace_id,
      input.service_name,
      managerOptions(input, serviceArgs),
    ),
  print: (record) => summary("workspace-service-start", record),
});

export const listServices = defineOperation({
  sdk: "listServices",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "service_list", title: "List services" },
  cli: {
    path: ["workspace", "service", "list"],
    args: ["workspace_id"],
    examples: ["pyro workspace service list WORKSPACE_ID"],
  },
  description:
    "List a workspace's services with their states; count and running_count summarize them.",
  hints: HINTS.read,
  input: { workspace_id: fields.workspaceId },
  output: serviceList,
  run: (manager, input) => manager.listServices(input.workspace_id),
  print: (list) => ({
    stdout:
      (list.count === 0 ? "No services.\n" : "") +
      lines(
        ...list.services.map(
          (s) =>
            `${s.service_name}  ${s.state}${s.exit_code !== null ? ` (exit ${s.exit_code})` : ""}${s.published_ports.length > 0 ? `  ${publishedText(s.published_ports)}` : ""}  ${s.command}`,
        ),
      ),
    stderr: lines(
      `[workspace-service-list] workspace_id=${list.workspace_id} count=${list.count} running_count=${list.running_count}`,
    ),
  }),
});

export const statusService = defineOperation({
  sdk: "statusService",
  sdkArgs: serviceArgs,
  mcp: { tool: "service_status", title: "Service status" },
  cli: {
    path: ["workspace", "service", "status"],
    args: serviceArgs,
    examples: ["pyro workspace service status WORKSPACE_ID app"],
  },
  description:
    "Return one service's record: state (starting, running, exited, stopped, failed), pid, ready_at, exit_code, stop_reason, failure_reason.",
  hints: HINTS.read,
  input: byName,
  output: serviceRecord,
  run: (manager, input) => manager.statusService(input.workspace_id, input.service_name),
  print: (record) => {
    const out = [
      `Service: ${record.service_name}`,
      `State: ${record.state}`,
      `Command: ${record.command}`,
      `Cwd: ${record.cwd}`,
      `Readiness: ${record.readiness ? JSON.stringify(record.readiness) : "none"}`,
      `Started: ${record.started_at}`,
    ];
    if (record.published_ports.length > 0)
      out.push(`Published: ${publishedText(record.published_ports)}`);
    if (record.pid) out.push(`Pid: ${record.pid}`);
    if (record.ready_at) out.push(`Ready at: ${record.ready_at}`);
    if (record.ended_at) out.push(`Ended at: ${record.ended_at}`);
    if (record.exit_code !== null) out.push(`Exit code: ${record.exit_code}`);
    if (record.stop_reason) out.push(`Stop reason: ${record.stop_reason}`);
    if (record.failure_reason) out.push(`Failure: ${record.failure_reason}`);
    return { stdout: lines(...out) };
  },
});

export const logsService = defineOperation({
  sdk: "logsService",
  sdkArgs: serviceArgs,
  mcp: { tool: "service_logs", title: "Service logs" },
  cli: {
    path: ["workspace", "service", "logs"],
    args: serviceArgs,
    examples: [
      "pyro workspace service logs WORKSPACE_ID app --tail-lines 50",
      "pyro workspace service logs WORKSPACE_ID app --all --json",
    ],
  },
  description:
    "Return a service's stdout and stderr, kept apart: the last tail_lines lines (default 200), or everything held with all.",
  hints: HINTS.read,
  input: {
    ...byName,
    tail_lines: wholeNumber(
      SHELL_SERVICE_LIMITS.tailLines,
      `Last lines of each stream (default ${SERVICE_DEFAULTS.tailLines}).`,
    ).optional(),
    all: z.boolean().describe("Every line held (overrides tail_lines).").optional(),
  },
  output: serviceLogs,
  run: (manager, input) =>
    manager.logsService(input.workspace_id, input.service_name, managerOptions(input, serviceArgs)),
  // Stored output is shown escaped (newlines and tabs kept); --json gives the exact bytes.
  print: (logs) => ({ stdout: block(logs.stdout), stderr: block(logs.stderr) }),
});

export const stopService = defineOperation({
  sdk: "stopService",
  sdkArgs: serviceArgs,
  mcp: { tool: "service_stop", title: "Stop a service" },
  cli: {
    path: ["workspace", "service", "stop"],
    args: serviceArgs,
    examples: ["pyro workspace service stop WORKSPACE_ID app"],
  },
  description:
    "Stop a service: TERM to its process group, KILL after a 5 s grace period; stop_reason records which.",
  hints: HINTS.destroyIdempotent,
  input: byName,
  output: serviceRecord,
  run: (manager, input) => manager.stopService(input.workspace_id, input.service_name),
  print: (record) => summary("workspace-service-stop", record),
});
