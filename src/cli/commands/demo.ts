import type { Command } from "commander";
import { PyroError } from "../../core/errors.js";
import { DEFAULT_ENVIRONMENT } from "../../environments/catalog.js";
import type { CliContext } from "../context.js";
import { printJson, printLines } from "../output.js";

const DEMO_COMMAND = "uname -sr && git --version && echo hello from the guest";

/**
 * `pyro demo`: the original's quick tour of the VM lifecycle (create, start, exec, delete) on the
 * installed default environment, offline. Not an operation of its own: it chains four.
 */
export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command("demo")
    .summary("A quick tour: create, start, exec and delete a VM (offline).")
    .description(
      `A quick tour of the VM lifecycle on ${DEFAULT_ENVIRONMENT}: create a VM, start it, run one command in it (which deletes it), and check it is gone. Runs offline once the environment is installed. (The original's \`demo ollama\` needs a model server and is left out.)`,
    )
    .option("--json", "print one JSON object with every step instead of human output")
    .addHelpText("after", "\nExample:\n  pyro demo")
    .action(async (flags: { json?: boolean }) =>
      ctx.run(flags.json, async () => {
        const manager = ctx.manager();
        const say = (line: string) => (flags.json ? undefined : printLines(process.stderr, line));
        const env = await manager.inspectEnvironment(DEFAULT_ENVIRONMENT);
        if (!env.installed) {
          throw new PyroError(
            "ENVIRONMENT_NOT_INSTALLED",
            `${DEFAULT_ENVIRONMENT} is not installed, and the demo runs offline`,
            { hint: `Install it once with \`pyro env pull ${DEFAULT_ENVIRONMENT}\`.` },
          );
        }
        const created = await manager.createVm({
          environment: DEFAULT_ENVIRONMENT,
          ttlSeconds: 300,
        });
        say(`[demo] phase=create vm_id=${created.vm_id} state=${created.state}`);
        const started = await manager.startVm(created.vm_id);
        say(
          `[demo] phase=start vm_id=${started.vm_id} state=${started.state} execution_mode=${started.execution_mode}`,
        );
        const result = await manager.execVm(created.vm_id, { command: DEMO_COMMAND });
        if (!flags.json) process.stdout.write(result.stdout);
        say(
          `[demo] phase=exec vm_id=${result.vm_id} exit_code=${result.exit_code} duration_ms=${result.duration_ms}`,
        );
        const gone = await manager.statusVm(created.vm_id).then(
          () => false,
          (error: unknown) => error instanceof PyroError && error.code === "VM_NOT_FOUND",
        );
        say(`[demo] phase=delete vm_id=${created.vm_id} deleted=${gone}`);
        if (flags.json)
          printJson({ vm_id: created.vm_id, created, started, exec: result, deleted: gone });
        return result.exit_code ?? 1;
      }),
    );
}
