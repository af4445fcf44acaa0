import { checkExecEnv } from "../core/workspace/exec-env.js";
import { StringDecoder } from "node:string_decoder";
import { SERVICE_DEFAULTS } from "../contract.js";
import { PyroError } from "../core/errors.js";
import {
  checkGuestCwd,
  checkReadiness,
  checkReadyInterval,
  checkReadyTimeout,
  checkServiceCommand,
  checkServiceName,
  checkTailLines,
  readinessSummary,
  type Readiness,
} from "../core/workspace/shell-service-args.js";
import type { ServiceLogsPayload, ServiceRecord } from "../core/workspace/services.js";
import { endedExec, ownExec, sleep, type OwnExec } from "./agent-exec.js";
import type { Multiplexer } from "./mux.js";
import { OutputBuffer, type SavedBuffer } from "./output-buffer.js";
import { settled } from "./shells.js";
import { checkPortRequests, type PublishedPort } from "../core/network/ports.js";
import type { PortForwarder } from "./port-forwarder.js";

/** Characters of stdout and of stderr each service keeps (the oldest are dropped). */
export const SERVICE_LOG_CHARS = 512 * 1024;
export const MAX_SERVICES = 64;
/** Lines of each stream quoted in a failed start's error. */
const FAILURE_TAIL_LINES = 20;

interface Service {
  record: ServiceRecord;
  probe: Readiness | null;
  exec: OwnExec;
  stdout: OutputBuffer;
  stderr: OutputBuffer;
  exited: Promise<void>;
  stopping: "sigterm" | "sigkill" | null;
  /** Set when the process ended: its published ports being removed. */
  unpublished: Promise<void> | null;
}

/** A service as a full snapshot keeps it (src/supervisor/full-snapshot.ts). */
export interface SavedService {
  record: ServiceRecord;
  channel: number;
  done: boolean;
  stdout: SavedBuffer;
  stderr: SavedBuffer;
}

/** The named background services of one workspace, owned by its supervisor. */
export class ServiceTable {
  private readonly services = new Map<string, Service>();

  /** Services held, whatever their state. */
  get size(): number {
    return this.services.size;
  }

  constructor(
    private readonly mux: Multiplexer,
    private readonly workspaceId: string,
    /** Called whenever a service changes state (the supervisor mirrors counts into workspace.json). */
    private readonly onChange: (counts: { service_count: number; running_count: number }) => void,
    private readonly stopGraceMs = SERVICE_DEFAULTS.stopGraceSeconds * 1000,
    /** Present only under network policy egress+published-ports. */
    private readonly ports: PortForwarder | null = null,
  ) {}

  counts(): { service_count: number; running_count: number } {
    let running = 0;
    for (const s of this.services.values()) if (s.record.state === "running") running += 1;
    return { service_count: this.services.size, running_count: running };
  }

  async start(body: Record<string, unknown>): Promise<ServiceRecord> {
    const name = checkServiceName(body.service_name);
    const command = checkServiceCommand(body.command);
    const cwd = checkGuestCwd(body.cwd);
    const probe = checkReadiness(body.readiness, cwd);
    const timeoutSeconds = checkReadyTimeout(body.ready_timeout_seconds);
    const intervalMs = checkReadyInterval(body.ready_interval_ms);
    const env = checkExecEnv(body.env);
    const requests = checkPortRequests(body.published_ports);
    if (requests.length > 0 && !this.ports) {
      throw new PyroError(
        "PUBLISH_NOT_ALLOWED",
        `workspace ${this.workspaceId} cannot publish ports: its network policy is not egress+published-ports`,
        {
          hint: "Create the workspace with `--network-policy egress+published-ports` to publish service ports.",
        },
      );
    }
    this.checkFree(name);
    // Published before the process starts: a taken host port fails the start with nothing running.
    const published = this.ports && requests.length > 0 ? await this.ports.publish(requests) : [];
    try {
      this.checkFree(name);
    } catch (error) {
      await this.ports?.unpublish(published);
      throw error;
    }
    const record: ServiceRecord = {
      workspace_id: this.workspaceId,
      service_name: name,
      command,
      cwd,
      state: "starting",
      started_at: new Date().toISOString(),
      ready_at: null,
      ended_at: null,
      exit_code: null,
      pid: null,
      readiness: readinessSummary(probe),
      ready_timeout_seconds: timeoutSeconds,
      ready_interval_ms: intervalMs,
      stop_reason: null,
      failure_reason: null,
      execution_mode: "guest_agent",
      published_ports: published,
    };
    const stdout = new OutputBuffer(SERVICE_LOG_CHARS);
    const stderr = new OutputBuffer(SERVICE_LOG_CHARS);
    const logs = serviceLogs(stdout, stderr);
    const exec = ownExec(
      this.mux,
      { argv: ["/bin/sh", "-c", command], cwd, stdin: false, env },
      logs.handlers,
    );
    const service: Service = {
      record,
      probe,
      exec,
      stdout,
      stderr,
      exited: Promise.resolve(),
      stopping: null,
      unpublished: null,
    };
    service.exited = this.whenEnded(service, logs.end);
    this.services.set(name, service);
    this.changed();
    try {
      record.pid = await exec.started;
    } catch {
      await service.exited;
      await service.unpublished;
      throw this.failure(service);
    }
    try {
      await this.waitReady(service);
    } catch (error) {
      await service.unpublished;
      throw error;
    }
    return { ...record, published_ports: [...record.published_ports] };
  }

  /** The name is not taken by a live service, and there is room for one more. */
  private checkFree(name: string): void {
    const previous = this.services.get(name);
    if (previous && (previous.record.state === "starting" || previous.record.state === "running")) {
      throw new PyroError(
        "SERVICE_EXISTS",
        `service "${name}" is already ${previous.record.state}`,
        {
          hint: `Stop it first with \`pyro workspace service stop ${this.workspaceId} ${name}\`, or pick another name.`,
        },
      );
    }
    if (!previous && this.services.size >= MAX_SERVICES) {
      throw new PyroError("LIMIT_REACHED", `this workspace already has ${MAX_SERVICES} services`, {
        hint: "Names of stopped services can be reused.",
      });
    }
  }

  /**
   * QEMU is gone (workspace stop saved the VM and ended it), and every forward with it: the
   * records say so. A service that goes on after `workspace start` is published again by
   * restarting it with --publish.
   */
  dropPublished(): void {
    for (const service of this.services.values()) service.record.published_ports = [];
  }

  /** Published ports of running services, for network-info. */
  published(): { service_name: string; ports: PublishedPort[] }[] {
    return [...this.services.values()]
      .filter((s) => s.record.published_ports.length > 0)
      .map((s) => ({ service_name: s.record.service_name, ports: [...s.record.published_ports] }));
  }

  /** Names of services still waiting to become ready: a full snapshot waits for none. */
  starting(): string[] {
    return [...this.services.values()]
      .filter((s) => s.record.state === "starting")
      .map((s) => s.record.service_name);
  }

  /** The table as a full snapshot keeps it (the VM is paused while this runs). */
  save(): SavedService[] {
    return [...this.services.values()].map((s) => ({
      record: { ...s.record },
      channel: s.exec.channel,
      done: s.exec.done,
      stdout: s.stdout.save(),
      stderr: s.stderr.save(),
    }));
  }

  /** Take back the services of a VM restored from a full snapshot (same agent channels). */
  adopt(saved: SavedService[], workspaceId: string): void {
    for (const s of saved) {
      // Published ports are host forwards of the QEMU that took the snapshot; the restored VM
      // has none, so the restored record lists none (start the service again to publish).
      const record: ServiceRecord = { ...s.record, workspace_id: workspaceId, published_ports: [] };
      const stdout = OutputBuffer.restore(SERVICE_LOG_CHARS, s.stdout);
      const stderr = OutputBuffer.restore(SERVICE_LOG_CHARS, s.stderr);
      const running = !s.done && (record.state === "running" || record.state === "starting");
      const logs = serviceLogs(stdout, stderr);
      const exec = running
        ? ownExec(this.mux, { argv: ["/bin/sh", "-c", record.command] }, logs.handlers, {
            channel: s.channel,
            pid: record.pid ?? 0,
          })
        : endedExec(s.channel, record.exit_code);
      const service: Service = {
        record,
        probe: null,
        exec,
        stdout,
        stderr,
        exited: Promise.resolve(),
        stopping: null,
        unpublished: null,
      };
      if (running) service.exited = this.whenEnded(service, logs.end);
      this.services.set(record.service_name, service);
    }
    // No record write here: the supervisor writes the counts with its first record update
    // (two updates at once would wait on each other for the workspace lock it holds).
  }

  /** The service's exit, once its process ends: logs flushed, record and ports settled. */
  private whenEnded(service: Service, flushLogs: () => void): Promise<void> {
    return service.exec.result.then(
      (exit) => {
        flushLogs();
        this.onExit(service, exit.exitCode, null);
      },
      (error: Error) => this.onExit(service, null, error.message),
    );
  }

  list(): {
    workspace_id: string;
    count: number;
    running_count: number;
    services: ServiceRecord[];
  } {
    const services = [...this.services.values()]
      .map((s) => ({ ...s.record }))
      .sort((a, b) => a.started_at.localeCompare(b.started_at));
    return {
      workspace_id: this.workspaceId,
      count: services.length,
      running_count: services.filter((s) => s.state === "running").length,
      services,
    };
  }

  status(body: Record<string, unknown>): ServiceRecord {
    return { ...this.get(body.service_name).record };
  }

  logs(body: Record<string, unknown>): ServiceLogsPayload {
    const service = this.get(body.service_name);
    const tail = checkTailLines(body.tail_lines, body.all === true);
    const out = service.stdout.tailLines(tail ?? undefined);
    const err = service.stderr.tailLines(tail ?? undefined);
    return {
      workspace_id: this.workspaceId,
      service_name: service.record.service_name,
      state: service.record.state,
      stdout: out.text,
      stderr: err.text,
      tail_lines: tail,
      stdout_truncated: out.truncated,
      stderr_truncated: err.truncated,
    };
  }

  /** TERM to the process group, KILL after the grace period; idempotent on an ended service. */
  async stop(body: Record<string, unknown>): Promise<ServiceRecord> {
    const service = this.get(body.service_name);
    await this.terminate(service);
    await service.unpublished;
    return { ...service.record };
  }

  private async terminate(service: Service): Promise<void> {
    if (!service.exec.done) {
      service.stopping = "sigterm";
      service.exec.signal("TERM");
      if (!(await settled(service.exited, this.stopGraceMs))) {
        service.stopping = "sigkill";
        service.exec.signal("KILL");
        await settled(service.exited, 5000);
      }
    }
    await settled(service.exited, 5000);
    await this.sweepGroup(service.record.pid);
  }

  /**
   * The service's process group can outlive its leader (a child that ignores TERM); the agent no
   * longer signals a channel that has exited, so kill what is left of the group directly.
   */
  private async sweepGroup(pid: number | null): Promise<void> {
    if (!pid || pid <= 1) return;
    const sweep = ownExec(this.mux, {
      argv: ["/bin/sh", "-c", 'kill -KILL "-$1" 2>/dev/null; true', "sh", String(pid)],
      cwd: "/",
      timeoutMs: 10_000,
    });
    await settled(sweep.result, 10_000);
  }

  private onExit(service: Service, exitCode: number | null, error: string | null): void {
    const r = service.record;
    // Its ports go with it (stopped, exited or failed): nothing is forwarded to a dead port.
    const ports = r.published_ports;
    r.published_ports = [];
    service.unpublished = this.ports && ports.length > 0 ? this.ports.unpublish(ports) : null;
    r.ended_at = new Date().toISOString();
    r.exit_code = exitCode;
    if (r.state === "failed") {
      // killed after a failed readiness check: the failure stays the story
    } else if (service.stopping) {
      r.state = "stopped";
      r.stop_reason = service.stopping;
    } else if (r.state === "starting") {
      r.state = "failed";
      r.failure_reason =
        error ?? `the service exited with status ${String(exitCode)} before it became ready`;
    } else {
      r.state = "exited";
    }
    this.changed();
  }

  private async waitReady(service: Service): Promise<void> {
    const r = service.record;
    const deadline = Date.now() + r.ready_timeout_seconds * 1000;
    if (!service.probe) {
      // No probe: it is running once it survived one interval.
      await Promise.race([sleep(r.ready_interval_ms), service.exited]);
    } else {
      for (;;) {
        if (r.state !== "starting") break;
        const ok = await this.probeOnce(service, service.probe, deadline);
        if (r.state !== "starting") break;
        if (ok) break;
        const left = deadline - Date.now();
        if (left <= 0) {
          r.state = "failed";
          r.failure_reason = `readiness probe (${describeProbe(service.probe)}) did not succeed within ${r.ready_timeout_seconds} s`;
          this.changed();
          await this.terminate(service);
          throw this.failure(service);
        }
        await Promise.race([sleep(Math.min(r.ready_interval_ms, left)), service.exited]);
      }
    }
    if (r.state !== "starting") throw this.failure(service);
    r.state = "running";
    r.ready_at = new Date().toISOString();
    this.changed();
  }

  /** One run of the probe through the agent; true when it passed. */
  private async probeOnce(service: Service, probe: Readiness, deadline: number): Promise<boolean> {
    const timeoutMs = Math.max(1000, Math.min(5000, deadline - Date.now()));
    const run = ownExec(this.mux, {
      ...probeArgv(probe),
      cwd: service.record.cwd,
      timeoutMs,
    });
    try {
      const exit = await run.result;
      return exit.exitCode === 0 && !exit.timedOut;
    } catch {
      return false;
    }
  }

  private failure(service: Service): PyroError {
    const r = service.record;
    const out = service.stdout.tailLines(FAILURE_TAIL_LINES).text;
    const err = service.stderr.tailLines(FAILURE_TAIL_LINES).text;
    const reason =
      r.state === "stopped"
        ? "it was stopped before it became ready"
        : (r.failure_reason ?? `it is ${r.state}`);
    const clip = (s: string) => (s.length > 4000 ? `...${s.slice(-4000)}` : s);
    const tail = [
      err ? `stderr (last lines):\n${clip(err).trimEnd()}` : "",
      out ? `stdout (last lines):\n${clip(out).trimEnd()}` : "",
    ]
      .filter(Boolean)
      .join("\n");
    return new PyroError(
      "SERVICE_FAILED",
      `service "${r.service_name}" failed to start: ${reason}${tail ? `\n${tail}` : ""}`,
      {
        hint: `See its logs with \`pyro workspace service logs ${this.workspaceId} ${r.service_name} --all\`; its record stays in \`service list\`.`,
        details: { service: { ...r }, stdout_tail: out, stderr_tail: err },
      },
    );
  }

  private get(name: unknown): Service {
    const checked = checkServiceName(name);
    const service = this.services.get(checked);
    if (!service) {
      throw new PyroError(
        "SERVICE_NOT_FOUND",
        `no service "${checked}" in workspace ${this.workspaceId}`,
        {
          hint: `List services with \`pyro workspace service list ${this.workspaceId}\`; a reset clears every service.`,
        },
      );
    }
    return service;
  }

  private changed(): void {
    this.onChange(this.counts());
  }
}

function describeProbe(probe: Readiness): string {
  switch (probe.type) {
    case "file":
      return `file ${probe.path}`;
    case "tcp":
      return `tcp ${probe.address}`;
    case "http":
      return `http ${probe.url}`;
    case "command":
      return `command ${JSON.stringify(probe.command)}`;
  }
}

/**
 * The probes, run in the guest. The Debian images have bash but neither curl nor python, so TCP
 * and HTTP use bash's /dev/tcp; values are passed as positional arguments, never spliced into
 * the script.
 */
export function probeArgv(probe: Readiness): { argv: string[] } {
  switch (probe.type) {
    case "file":
      return { argv: ["/bin/sh", "-c", 'test -e "$1"', "probe", probe.path] };
    case "tcp":
      return {
        argv: [
          "/bin/bash",
          "-c",
          'exec 3<>"/dev/tcp/$1/$2"',
          "probe",
          probe.host,
          String(probe.port),
        ],
      };
    case "http":
      return {
        argv: [
          "/bin/bash",
          "-c",
          [
            'exec 3<>"/dev/tcp/$1/$2" || exit 1',
            'printf \'GET %s HTTP/1.0\\r\\nHost: %s:%s\\r\\nConnection: close\\r\\n\\r\\n\' "$3" "$1" "$2" >&3',
            "IFS= read -r line <&3 || exit 1",
            'case "$line" in "HTTP/"*" "[23][0-9][0-9]*) exit 0 ;; esac',
            "exit 1",
          ].join("\n"),
          "probe",
          probe.host,
          String(probe.port),
          probe.path,
        ],
      };
    case "command":
      return { argv: ["/bin/sh", "-c", probe.command] };
  }
}

/** A service's output into its two logs, decoded as UTF-8 across chunks; `end` flushes both. */
function serviceLogs(
  stdout: OutputBuffer,
  stderr: OutputBuffer,
): {
  handlers: { onStdout: (chunk: Buffer) => void; onStderr: (chunk: Buffer) => void };
  end: () => void;
} {
  const out = new StringDecoder("utf8");
  const err = new StringDecoder("utf8");
  return {
    handlers: {
      onStdout: (chunk) => stdout.append(out.write(chunk)),
      onStderr: (chunk) => stderr.append(err.write(chunk)),
    },
    end: () => {
      stdout.append(out.end());
      stderr.append(err.end());
    },
  };
}
