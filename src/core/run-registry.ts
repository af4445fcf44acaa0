import { randomBytes } from "node:crypto";
import { PyroError } from "./errors.js";
import { checkExecBounds } from "./output-bounds.js";
import { checkRunOptions, type RunOptions, type RunPayload } from "./run.js";

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
    options: RunOptions & { waitSeconds?: number },
    launch: (options: RunOptions) => Promise<RunPayload>,
  ): Promise<RunPayload> {
    const { waitSeconds, ...runOptions } = options;
    const { waitMs } = checkExecBounds({ waitSeconds });
    if (waitMs === undefined) return launch(runOptions);
    const spec = checkRunOptions(runOptions);
    const runId = `run-${randomBytes(6).toString("hex")}`;
    const started = performance.now();
    let live: (() => RunPayload) | undefined;
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
      done: launch({ ...runOptions, onRunning: (view) => (live = view) }),
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
    const ended = await settledWithin(tracked.done, waitMs);
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
