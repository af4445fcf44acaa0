import type { Command } from "commander";
import { DEFAULTS } from "../../contract.js";
import { DEFAULT_ENVIRONMENT } from "../../environments/catalog.js";
import type { CliContext } from "../context.js";
import { intOption } from "../parse.js";
import { holdOnStdoutClosed, printJson, shellJoin } from "../output.js";
import { pullProgressReporter } from "../progress.js";
import { streamTo } from "../stream-output.js";

interface RunFlags {
  vcpuCount?: number;
  memMib?: number;
  timeoutSeconds?: number;
  ttlSeconds?: number;
  network?: boolean;
  json?: boolean;
}

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command("run")
    .description("Run one command in a fresh microVM, then delete the VM.")
    .argument("<environment>", `environment name, e.g. ${DEFAULT_ENVIRONMENT}`)
    .argument("[command...]", "the command, after `--`")
    .option("--vcpu-count <n>", `virtual CPUs (default ${DEFAULTS.vcpuCount})`, intOption)
    .option("--mem-mib <n>", `memory in MiB (default ${DEFAULTS.memMib})`, intOption)
    .option(
      "--timeout-seconds <n>",
      `command timeout (default ${DEFAULTS.timeoutSeconds})`,
      intOption,
    )
    .option(
      "--ttl-seconds <n>",
      `upper bound on the VM's life (default ${DEFAULTS.ttlSeconds})`,
      intOption,
    )
    .option("--network", "give the guest user-mode network egress (default off)")
    .option("--json", "print one JSON object instead of streaming output")
    .addHelpText(
      "after",
      `\nThe words after \`--\` are joined into one shell command. Exit status is the command's;\na command killed by --timeout-seconds exits 124.\n\nExamples:\n  pyro run ${DEFAULT_ENVIRONMENT} -- git --version\n  pyro run ${DEFAULT_ENVIRONMENT} --timeout-seconds 5 -- sh -c 'echo hi; exit 7'`,
    )
    .action(async (environment: string, words: string[], flags: RunFlags) =>
      ctx.run(flags.json, async () => {
        const controller = new AbortController();
        const onSignal = () => controller.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        // A closed stdout cancels the run like Ctrl-C, so its VM is torn down before exiting.
        const release = holdOnStdoutClosed(onSignal);
        const progress = pullProgressReporter("[pull]");
        try {
          const result = await ctx.manager().runInVm({
            environment,
            command: shellJoin(words),
            ...(flags.vcpuCount !== undefined ? { vcpuCount: flags.vcpuCount } : {}),
            ...(flags.memMib !== undefined ? { memMib: flags.memMib } : {}),
            ...(flags.timeoutSeconds !== undefined ? { timeoutSeconds: flags.timeoutSeconds } : {}),
            ...(flags.ttlSeconds !== undefined ? { ttlSeconds: flags.ttlSeconds } : {}),
            network: flags.network === true,
            signal: controller.signal,
            onPullProgress: progress.listener,
            ...(flags.json
              ? {}
              : {
                  onStdout: streamTo(process.stdout),
                  onStderr: streamTo(process.stderr),
                  onBooted: ({ bootMs, accelerator }: { bootMs: number; accelerator: string }) =>
                    process.stderr.write(
                      `[run] phase=booted environment=${environment} accelerator=${accelerator} boot_ms=${bootMs}\n`,
                    ),
                }),
          });
          if (flags.json) {
            printJson(result);
          } else {
            const timeout = result.timed_out ? " timed_out=true" : "";
            process.stderr.write(
              `[run] environment=${result.environment} execution_mode=${result.execution_mode} accelerator=${result.accelerator} exit_code=${result.exit_code}${timeout} duration_ms=${result.duration_ms} boot_ms=${result.boot_ms}\n`,
            );
          }
          return result.exit_code;
        } finally {
          progress.stop();
          release();
          process.removeListener("SIGINT", onSignal);
          process.removeListener("SIGTERM", onSignal);
        }
      }),
    );
}
