import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { DEFAULTS } from "../contract.js";
import type { ProgressListener } from "../environments/build.js";
import { AgentConnection } from "../protocol/client.js";
import { TIMEOUT_EXIT_CODE } from "../protocol/messages.js";
import { isCatalogName } from "../environments/local.js";
import { ensureEnvironment } from "./environments.js";
import { captureOutput } from "./capture.js";
import { checkExecBounds, streamFields, type StreamRecorder } from "./output-bounds.js";
import { checkWorkspaceSpec, type ExecutionMode } from "./workspace/record.js";
import { PyroError } from "./errors.js";
import { processAlive, readPidFile } from "./fs.js";
import { runsDir, type PyroPaths } from "./paths.js";
import { checkCommand, checkRange } from "./validate.js";
import { launchVm } from "./vm-launch.js";
import type { NetworkPolicy } from "./network/policy.js";

export interface RunOptions {
  environment: string;
  /** One shell command string, run by /bin/sh -c in the guest. */
  command: string;
  vcpuCount?: number;
  memMib?: number;
  timeoutSeconds?: number;
  ttlSeconds?: number;
  network?: boolean;
  networkPolicy?: NetworkPolicy;
  /** Head plus tail of each stream kept in the result (default 16 KiB, at most 512 KiB). */
  maxOutputBytes?: number;
  /**
   * Streamed output; the bytes are still captured (bounded) for the payload. A returned promise
   * holds the guest back until it resolves.
   */
  onStdout?: (chunk: Buffer) => unknown;
  onStderr?: (chunk: Buffer) => unknown;
  onPullProgress?: ProgressListener;
  /** Called once the VM is up, with the boot time and accelerator. */
  onBooted?: (info: { bootMs: number; accelerator: string }) => void;
  /** Called once the command runs, with a view of the result so far (output, duration). */
  onRunning?: (view: () => RunPayload) => void;
  signal?: AbortSignal;
}

export interface RunPayload {
  environment: string;
  command: string;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  stdout_bytes: number;
  stderr_bytes: number;
  /** null while the run is still going (state "running"). */
  exit_code: number | null;
  timed_out: boolean;
  signal: string | null;
  duration_ms: number;
  boot_ms: number;
  execution_mode: ExecutionMode;
  accelerator: string;
  vcpu_count: number;
  mem_mib: number;
  network: boolean;
  /** "running" only in a result returned after wait_seconds; `waitRun(run_id)` gives the end. */
  state: "running" | "finished";
  run_id: string | null;
}

/**
 * One-shot run: pull if needed, boot a fresh VM on a throwaway root overlay, run one command,
 * tear everything down. The run directory and the VM are removed whatever happens: on success,
 * error, timeout or cancellation.
 */
/** A run's options checked (environment known, command, ranges) with the defaults applied. */
export interface RunSpec {
  environment: string;
  command: string;
  vcpuCount: number;
  memMib: number;
  timeoutSeconds: number;
  ttlSeconds: number;
  network: boolean;
}

export function checkRunOptions(options: RunOptions): RunSpec {
  checkExecBounds(options);
  return {
    ...checkWorkspaceSpec(options),
    command: checkCommand(options.command),
    timeoutSeconds: checkRange("timeoutSeconds", options.timeoutSeconds ?? DEFAULTS.timeoutSeconds),
  };
}

/** The run payload from what ran where: the same shape in a guest and on the host. */
export function runPayload(
  spec: RunSpec,
  output: { stdout: StreamRecorder; stderr: StreamRecorder },
  outcome: ExecOutcome,
  where: { durationMs: number; bootMs: number; executionMode: ExecutionMode; accelerator: string },
): RunPayload {
  return {
    environment: spec.environment,
    command: spec.command,
    ...streamFields(output),
    exit_code: outcome.exitCode,
    timed_out: outcome.timedOut,
    signal: outcome.signal,
    duration_ms: where.durationMs,
    boot_ms: where.bootMs,
    execution_mode: where.executionMode,
    accelerator: where.accelerator,
    vcpu_count: spec.vcpuCount,
    mem_mib: spec.memMib,
    network: spec.network,
    state: "finished",
    run_id: null,
  };
}

export async function runInVm(paths: PyroPaths, options: RunOptions): Promise<RunPayload> {
  const spec = checkRunOptions(options);
  const { command, vcpuCount, memMib, timeoutSeconds, ttlSeconds, network } = spec;

  await sweepAbandonedRuns(paths);
  const environment = await ensureEnvironment(paths, options.environment, options.onPullProgress);
  const runDir = path.join(runsDir(paths), randomBytes(6).toString("hex"));
  await fs.mkdir(runDir, { recursive: true });
  await fs.writeFile(path.join(runDir, "owner"), String(process.pid));
  let kill: (() => Promise<void>) | undefined;
  try {
    const launched = await launchVm(paths, {
      environment,
      runDir,
      vcpuCount,
      memMib,
      network,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const { vm } = launched;
    kill = vm.kill;
    const agent = AgentConnection.attach(vm.socket);
    options.onBooted?.({ bootMs: launched.bootMs, accelerator: launched.accelerator.accelerator });

    const { stdout, stderr, handlers } = captureOutput(options);
    const started = performance.now();
    options.onRunning?.(() => ({
      ...runPayload(
        spec,
        { stdout, stderr },
        { exitCode: 0, timedOut: false, signal: null },
        {
          durationMs: Math.round(performance.now() - started),
          bootMs: launched.bootMs,
          executionMode: "guest_agent",
          accelerator: launched.accelerator.accelerator,
        },
      ),
      exit_code: null,
    }));
    const handle = agent.exec(
      {
        argv: ["/bin/sh", "-c", command],
        // Pulled images run in their WorkingDir (the agent's default), Debian ones in /root.
        ...(isCatalogName(options.environment) ? { cwd: "/root" } : {}),
        timeoutMs: timeoutSeconds * 1000,
      },
      handlers,
    );
    // The agent enforces the timeout; the connection's host-side deadline (timeout plus grace)
    // backs it up with GUEST_UNRESPONSIVE if the guest stops answering, and the TTL bounds the
    // VM's whole life.
    const result = await raceDeadline(handle.result, ttlSeconds * 1000, options.signal, vm.exited);
    return runPayload(spec, { stdout, stderr }, result, {
      durationMs: Math.round(performance.now() - started),
      bootMs: launched.bootMs,
      executionMode: "guest_agent",
      accelerator: launched.accelerator.accelerator,
    });
  } finally {
    await kill?.();
    await fs.rm(runDir, { recursive: true, force: true });
  }
}

export type ExecOutcome = { exitCode: number; timedOut: boolean; signal: string | null };

function raceDeadline(
  result: Promise<ExecOutcome>,
  ttlMs: number,
  signal: AbortSignal | undefined,
  exited: Promise<unknown>,
): Promise<ExecOutcome> {
  return new Promise<ExecOutcome>((resolve, reject) => {
    const timer = setTimeout(
      () => resolve({ exitCode: TIMEOUT_EXIT_CODE, timedOut: true, signal: null }),
      ttlMs,
    );
    const onAbort = () => reject(new PyroError("CANCELLED", "the run was cancelled"));
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    void exited.then(() =>
      setTimeout(() => {
        done();
        reject(
          new PyroError("VM_CRASHED", "the VM stopped before the command finished", {
            hint: "Check the guest log; the command may have powered off or crashed the guest.",
          }),
        );
      }, 200),
    );
    result.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/** Remove run directories whose owning process is gone (a CLI killed with SIGKILL, say). */
export async function sweepAbandonedRuns(paths: PyroPaths): Promise<void> {
  const dir = runsDir(paths);
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const owner = await readPidFile(path.join(dir, name, "owner"));
    let alive: boolean;
    if (owner === undefined) {
      // A directory being set up has no owner file for a moment; only old ones are abandoned.
      const stat = await fs.stat(path.join(dir, name)).catch(() => undefined);
      alive = stat !== undefined && Date.now() - stat.mtimeMs < 60_000;
    } else {
      alive = processAlive(owner);
    }
    if (!alive) await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }
}
