import type { PyroPaths } from "../paths.js";
import { PyroError } from "../errors.js";
import { checkWorkspaceId, readRecord } from "./record.js";
import {
  checkGuestCwd,
  checkReadiness,
  checkReadyInterval,
  checkReadyTimeout,
  checkServiceCommand,
  checkServiceName,
  checkTailLines,
  type ReadinessInput,
} from "./shell-service-args.js";
import { supervisorRequest } from "./supervisor-client.js";
import { readSecrets, secretEnv, secretValues } from "./secrets.js";
import { redactText } from "./redact.js";
import { checkPortRequests, type PortRequest, type PublishedPort } from "../network/ports.js";

/**
 * Named background services (a dev server, a database): started by the workspace's supervisor,
 * waited for with a typed readiness probe, their stdout and stderr kept apart and bounded in the
 * supervisor (outside /workspace, so diff and export never see them). Reset and delete end them.
 */
export type ServiceState = "starting" | "running" | "exited" | "stopped" | "failed";

export interface ServiceRecord {
  workspace_id: string;
  service_name: string;
  command: string;
  cwd: string;
  state: ServiceState;
  started_at: string;
  ready_at: string | null;
  ended_at: string | null;
  exit_code: number | null;
  pid: number | null;
  readiness: ReadinessInput | null;
  ready_timeout_seconds: number;
  ready_interval_ms: number;
  stop_reason: "sigterm" | "sigkill" | null;
  failure_reason: string | null;
  execution_mode: "guest_agent";
  /** Where the service is reachable on the host (empty when nothing is published). */
  published_ports: PublishedPort[];
}

export interface ServiceListPayload {
  workspace_id: string;
  count: number;
  running_count: number;
  services: ServiceRecord[];
}

export interface ServiceLogsPayload {
  workspace_id: string;
  service_name: string;
  state: ServiceState;
  stdout: string;
  stderr: string;
  /** null when all held lines were asked for. */
  tail_lines: number | null;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}

export interface StartServiceOptions {
  /** One shell command string, run with /bin/sh -c. */
  command: string;
  /** Working directory under /workspace (default /workspace). */
  cwd?: string;
  readiness?: ReadinessInput | null;
  readyTimeoutSeconds?: number;
  readyIntervalMs?: number;
  /** Secrets put into the service's environment: `{SECRET_NAME: ENVVAR}` (secrets.ts). */
  secretEnv?: Record<string, string>;
  /** Ports to publish on the host's 127.0.0.1 (network policy egress+published-ports only). */
  publishedPorts?: PortRequest[];
}

/**
 * Start a service and wait until its probe passes (no probe: until it has run for one interval).
 * A probe that times out or a process that exits first is a SERVICE_FAILED error carrying the
 * reason and the log tail; the service stays listed with state `failed`.
 */
export async function startService(
  paths: PyroPaths,
  workspaceId: string,
  serviceName: string,
  options: StartServiceOptions,
): Promise<ServiceRecord> {
  checkWorkspaceId(workspaceId);
  const env = secretEnv(await readSecrets(paths, workspaceId), options.secretEnv);
  const publishedPorts = checkPortRequests(options.publishedPorts);
  if (publishedPorts.length > 0) await checkPublishAllowed(paths, workspaceId);
  const cwd = checkGuestCwd(options.cwd);
  const readyTimeoutSeconds = checkReadyTimeout(options.readyTimeoutSeconds);
  const body = {
    service_name: checkServiceName(serviceName),
    command: checkServiceCommand(options.command),
    cwd,
    readiness: options.readiness ? checkReadiness(options.readiness, cwd) : null,
    ready_timeout_seconds: readyTimeoutSeconds,
    ready_interval_ms: checkReadyInterval(options.readyIntervalMs),
    env,
    published_ports: publishedPorts,
  };
  // The supervisor may spend the whole readiness timeout, then the stop grace period.
  return supervisorRequest(
    paths,
    workspaceId,
    "service_start",
    body,
    (readyTimeoutSeconds + 60) * 1000,
  );
}

export function listServices(paths: PyroPaths, workspaceId: string): Promise<ServiceListPayload> {
  checkWorkspaceId(workspaceId);
  return supervisorRequest(paths, workspaceId, "service_list", {});
}

export function statusService(
  paths: PyroPaths,
  workspaceId: string,
  serviceName: string,
): Promise<ServiceRecord> {
  checkWorkspaceId(workspaceId);
  return supervisorRequest(paths, workspaceId, "service_status", {
    service_name: checkServiceName(serviceName),
  });
}

export async function logsService(
  paths: PyroPaths,
  workspaceId: string,
  serviceName: string,
  options: { tailLines?: number; all?: boolean } = {},
): Promise<ServiceLogsPayload> {
  checkWorkspaceId(workspaceId);
  const all = options.all === true;
  const tail = checkTailLines(options.tailLines, all);
  const values = await secretValues(paths, workspaceId);
  // A tail of lines could start inside a secret of several lines: redact everything, then cut.
  const wholeFirst = tail !== null && values.some((v) => v.includes("\n"));
  const logs = await supervisorRequest<ServiceLogsPayload>(paths, workspaceId, "service_logs", {
    service_name: checkServiceName(serviceName),
    tail_lines: wholeFirst ? null : tail,
    all: all || wholeFirst,
  });
  if (!wholeFirst) return logs;
  const cut = (text: string) => {
    const whole = redactText(text, values);
    const kept =
      tail === 0
        ? ""
        : whole
            .split(/(?<=\n)/)
            .slice(-tail)
            .join("");
    return { text: kept, dropped: kept.length < whole.length };
  };
  const out = cut(logs.stdout);
  const err = cut(logs.stderr);
  return {
    ...logs,
    stdout: out.text,
    stderr: err.text,
    tail_lines: tail,
    stdout_truncated: logs.stdout_truncated || out.dropped,
    stderr_truncated: logs.stderr_truncated || err.dropped,
  };
}

export function stopService(
  paths: PyroPaths,
  workspaceId: string,
  serviceName: string,
): Promise<ServiceRecord> {
  checkWorkspaceId(workspaceId);
  return supervisorRequest(paths, workspaceId, "service_stop", {
    service_name: checkServiceName(serviceName),
  });
}

/** Publishing needs the policy that allows it; said here, before the supervisor is asked. */
async function checkPublishAllowed(paths: PyroPaths, workspaceId: string): Promise<void> {
  const record = await readRecord(paths, workspaceId);
  if (record.network_policy === "egress+published-ports") return;
  throw new PyroError(
    "PUBLISH_NOT_ALLOWED",
    `workspace ${workspaceId} cannot publish ports: its network policy is ${record.network_policy}`,
    {
      hint: "Only a workspace created with `--network-policy egress+published-ports` (MCP network_policy, SDK networkPolicy) publishes ports; create one with it, or start the service without --publish.",
    },
  );
}
