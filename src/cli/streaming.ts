import type { OperationName } from "../operations/index.js";
import type { CliHookFactory } from "./operation-command.js";
import { holdOnStdoutClosed } from "./output.js";
import { pullProgressReporter } from "./progress.js";
import { streamTo } from "./stream-output.js";

/**
 * The few commands that stream while they run: command output as it arrives (drain-aware, so a
 * slow reader holds the guest back instead of growing host memory), pull progress, Ctrl-C
 * cancellation. Under `--json` nothing streams; the one JSON object says it all.
 */
const streamOutput = () => ({
  onStdout: streamTo(process.stdout),
  onStderr: streamTo(process.stderr),
});

export const CLI_STREAMING: Partial<Record<OperationName, CliHookFactory>> = {
  runInVm: (json, input) => {
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    // A closed stdout cancels the run like Ctrl-C, so its VM is torn down before exiting.
    const release = holdOnStdoutClosed(onSignal);
    const progress = pullProgressReporter("[pull]");
    return {
      hooks: {
        signal: controller.signal,
        onPullProgress: progress.listener,
        ...(json
          ? {}
          : {
              ...streamOutput(),
              onBooted: ({ bootMs, accelerator }: { bootMs: number; accelerator: string }) =>
                void process.stderr.write(
                  `[run] phase=booted environment=${String(input.environment)} accelerator=${accelerator} boot_ms=${bootMs}\n`,
                ),
            }),
      },
      done: () => {
        progress.stop();
        release();
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
      },
    };
  },
  execWorkspace: (json) => ({ hooks: json ? {} : streamOutput(), done: () => undefined }),
  pullEnvironment: () => {
    const progress = pullProgressReporter("[pull]");
    return { hooks: { onProgress: progress.listener }, done: () => progress.stop() };
  },
  buildEnvironment: (json) => {
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const progress = pullProgressReporter("[build]");
    // Step output goes to stderr: stdout carries the result (or the one JSON object).
    const toStderr = streamTo(process.stderr);
    return {
      hooks: {
        signal: controller.signal,
        onProgress: progress.listener,
        ...(json ? {} : { onStdout: toStderr, onStderr: toStderr }),
      },
      done: () => {
        progress.stop();
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
      },
    };
  },
};
