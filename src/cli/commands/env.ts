import type { Command } from "commander";
import type { EnvironmentInspectPayload } from "../../core/environments.js";
import type { CliContext } from "../context.js";
import { printJson, printLines } from "../output.js";
import { pullProgressReporter } from "../progress.js";

export function registerEnv(program: Command, ctx: CliContext): void {
  const env = program
    .command("env")
    .description("List, build, inspect and prune the guest environments.")
    .addHelpText("after", "\nExamples:\n  pyro env list\n  pyro env pull debian:12");

  env
    .command("list")
    .description("List the catalog and which environments are installed.")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  pyro env list")
    .action(async (options: { json?: boolean }) =>
      ctx.run(options.json, async () => {
        const payload = await ctx.manager().listEnvironments();
        if (options.json) return printJson(payload);
        const lines = [`Catalog version: ${payload.catalog_version}`];
        for (const e of payload.environments) {
          lines.push(`${e.name} [${e.installed ? "installed" : "not installed"}] ${e.description}`);
        }
        printLines(process.stdout, ...lines);
      }),
    );

  env
    .command("pull")
    .description(
      "Build an environment locally from Debian packages (idempotent; repairs a broken install).",
    )
    .argument("<environment>", "environment name, e.g. debian:12")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  pyro env pull debian:12")
    .action(async (name: string, options: { json?: boolean }) =>
      ctx.run(options.json, async () => {
        const progress = pullProgressReporter("[pull]");
        try {
          const payload = await ctx.manager().pullEnvironment(name, progress.listener);
          progress.stop();
          if (options.json) return printJson(payload);
          printInspect(payload);
          process.stdout.write(
            payload.pulled ? "Pulled: yes\n" : "Pulled: no (already installed)\n",
          );
        } finally {
          progress.stop();
        }
      }),
    );

  env
    .command("inspect")
    .description("Show one environment's catalog entry and install details.")
    .argument("<environment>", "environment name, e.g. debian:12")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  pyro env inspect debian:12")
    .action(async (name: string, options: { json?: boolean }) =>
      ctx.run(options.json, async () => {
        const payload = await ctx.manager().inspectEnvironment(name);
        if (options.json) return printJson(payload);
        printInspect(payload);
      }),
    );

  env
    .command("prune")
    .description("Remove broken or stale installs and leftovers of interrupted pulls.")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  pyro env prune")
    .action(async (options: { json?: boolean }) =>
      ctx.run(options.json, async () => {
        const payload = await ctx.manager().pruneEnvironments();
        if (options.json) return printJson(payload);
        if (payload.count === 0) process.stdout.write("Nothing to prune.\n");
        for (const r of payload.removed)
          printLines(process.stdout, `Removed ${r.name}: ${r.reason}`);
      }),
    );
}

function printInspect(e: EnvironmentInspectPayload): void {
  const lines = [
    `Environment: ${e.name}`,
    `Version: ${e.version}`,
    `Description: ${e.description}`,
    `Distribution: ${e.distribution} ${e.distribution_version}`,
    `Default packages: ${e.default_packages.join(", ")}`,
    `Installed: ${e.installed ? "yes" : "no"}`,
    `Install dir: ${e.install_dir}`,
  ];
  if (e.kernel_version) lines.push(`Kernel: ${e.kernel_version}`);
  if (e.built_at) lines.push(`Built at: ${e.built_at}`);
  if (e.problem) lines.push(`Problem: ${e.problem} (fix: pyro env pull ${e.name})`);
  printLines(process.stdout, ...lines);
}
