import { randomBytes } from "node:crypto";
import { PyroError } from "./errors.js";
import { checkExecBounds } from "./output-bounds.js";
import { checkRunOptions, type RunOptions, type RunPayload } from "./run.js";
import { PROGRESS_INTERVAL_MS, type CommandProgress } from "./workspace/exec.js";

export interface RunStartOptions extends RunOptions {
  waitSeconds?: number;
  /** Called every few seconds while the call waits (MCP progress notifications). */
  onCommandProgress?: (progress: CommandProgress) => void;
}

/** How long a finished run's result stays available to `waitRun` after it ended. */
export const RUN_RESULT_KEEP_MS = 10 * 60_000;

interface TrackedRun {
  done: Promise<RunPayload>;
  view(): RunPayload;
  ended: boolean;
}

/**
 * One-shot runs that outlived their call (`vm_run` with wait_seconds): the VM belongs to this
 * process, so the runs are tracked here, in memory, and `waitRun` gives their end. A finished
 * run is kept for RUN_RESULT_KEEP_MS, then forgotten.
 */
export class RunRegistry {
  private readonly runs = new Map<string, TrackedRun>();

  /**
   * Start a run; resolve with its result, or after `waitSeconds` with state "running" and the
   * `run_id` to wait on.
   */
  async start(
    options: RunStartOptions,
    launch: (options: RunOptions) => Promise<RunPayload>,
  ): Promise<RunPayload> {
    const { waitSeconds, onCommandProgress, ...runOptions } = options;
    const { waitMs } = checkExecBounds({ waitSeconds });
    const started = performance.now();
    let live: (() => RunPayload) | undefined;
    const onRunning = (view: () => RunPayload) => {
      live = view;
      runOptions.onRunning?.(view);
    };
    const progress = (): CommandProgress => {
      const now = live?.();
      return {
        sequence: 0,
        elapsedMs: Math.round(performance.now() - started),
        stdoutBytes: now?.stdout_bytes ?? 0,
        stderrBytes: now?.stderr_bytes ?? 0,
      };
    };
    if (waitMs === undefined) {
      return whileReporting(launch({ ...runOptions, onRunning }), onCommandProgress, progress);
    }
    const spec = checkRunOptions(runOptions);
    const runId = `run-${randomBytes(6).toString("hex")}`;
    // Until the command runs (still booting), the view is the spec with no output yet.
    const booting = (): RunPayload => ({
      environment: spec.environment,
      command: spec.command,
      stdout: "",
      stderr: "",
      stdout_truncated: false,
      stderr_truncated: false,
      stdout_bytes: 0,
      stderr_bytes: 0,
      exit_code: null,
      timed_out: false,
      signal: null,
      duration_ms: Math.round(performance.now() - started),
      boot_ms: 0,
      execution_mode: "guest_agent",
      accelerator: "",
      vcpu_count: spec.vcpuCount,
      mem_mib: spec.memMib,
      network: spec.network,
      state: "running",
      run_id: runId,
    });
    const tracked: TrackedRun = {
      done: launch({ ...runOptions, onRunning }),
      view: () => (live ? { ...live(), state: "running", run_id: runId } : booting()),
      ended: false,
    };
    tracked.done = tracked.done.then((result) => ({ ...result, run_id: runId }));
    tracked.done
      .finally(() => {
        tracked.ended = true;
        setTimeout(() => this.runs.delete(runId), RUN_RESULT_KEEP_MS).unref();
      })
      .catch(() => undefined); // reported by waitRun, or by nobody if nobody asks
    this.runs.set(runId, tracked);
    const ended = await whileReporting(
      settledWithin(tracked.done, waitMs),
      onCommandProgress,
      progress,
    );
    if (ended) return tracked.done;
    return tracked.view();
  }

  /** The run's result once it ends, or after `waitSeconds` its state so far. */
  async wait(runId: string, waitSeconds?: number): Promise<RunPayload> {
    const { waitMs } = checkExecBounds({ waitSeconds });
    const tracked = this.runs.get(runId);
    if (!tracked) {
      throw new PyroError("RUN_NOT_FOUND", `no run ${runId} in this process`, {
        hint: `Runs are tracked by the server or program that started them, and forgotten ${RUN_RESULT_KEEP_MS / 60_000} minutes after they end; pass the run_id from a vm_run / runInVm result that said state "running".`,
      });
    }
    if (tracked.ended || (await settledWithin(tracked.done, waitMs ?? 0))) return tracked.done;
    return tracked.view();
  }
}

/** `promise`, with `onProgress` called every few seconds until it settles. */
async function whileReporting<T>(
  promise: Promise<T>,
  onProgress: ((progress: CommandProgress) => void) | undefined,
  progress: () => CommandProgress,
): Promise<T> {
  if (!onProgress) return promise;
  const ticker = setInterval(() => onProgress(progress()), PROGRESS_INTERVAL_MS);
  try {
    return await promise;
  } finally {
    clearInterval(ticker);
  }
}

/** True when `promise` settled within `ms` (either way). */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
