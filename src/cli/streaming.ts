import type { OperationName } from "../operations/index.js";
import type { CliHookFactory } from "./operation-command.js";
import { pullProgressReporter } from "./progress.js";

/**
 * The few commands that stream while they run: command output as it arrives, pull progress,
 * Ctrl-C cancellation. Under `--json` nothing streams; the one JSON object says it all.
 */
const streamOutput = {
  onStdout: (chunk: Buffer) => void process.stdout.write(chunk),
  onStderr: (chunk: Buffer) => void process.stderr.write(chunk),
};

export const CLI_STREAMING: Partial<Record<OperationName, CliHookFactory>> = {
  runInVm: (json, input) => {
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const progress = pullProgressReporter("[pull]");
    return {
      hooks: {
        signal: controller.signal,
        onPullProgress: progress.listener,
        ...(json
          ? {}
          : {
              ...streamOutput,
              onBooted: ({ bootMs, accelerator }: { bootMs: number; accelerator: string }) =>
                void process.stderr.write(
                  `[run] phase=booted environment=${String(input.environment)} accelerator=${accelerator} boot_ms=${bootMs}\n`,
                ),
            }),
      },
      done: () => {
        progress.stop();
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
      },
    };
  },
  execWorkspace: (json) => ({ hooks: json ? {} : streamOutput, done: () => undefined }),
  pullEnvironment: () => {
    const progress = pullProgressReporter("[pull]");
    return { hooks: { onProgress: progress.listener }, done: () => progress.stop() };
  },
};
