import { Command } from "commander";
import { DEFAULT_ENVIRONMENT } from "../environments/catalog.js";
import { OPERATIONS, type OperationName } from "../operations/index.js";
import { VERSION } from "../version.js";
import { registerDemo } from "./commands/demo.js";
import { registerMcp } from "./commands/mcp.js";
import { createContext, type CliContext } from "./context.js";
import { addOperationCommand } from "./operation-command.js";
import { CLI_STREAMING } from "./streaming.js";

const FIRST_PATH = `
Suggested first path:
  pyro doctor
  pyro env list
  pyro env pull debian:12
  pyro run debian:12 -- git --version
Use \`pyro mcp serve\` only after the CLI path above works.`;

/** Command groups: words that only hold subcommands. */
const GROUPS: Record<string, { description: string; examples: string[] }> = {
  env: {
    description: "List, build, inspect and prune the guest environments.",
    examples: ["pyro env list", `pyro env pull ${DEFAULT_ENVIRONMENT}`],
  },
  workspace: {
    description: "Persistent workspaces: create, exec, sync, export, diff, status, logs, delete.",
    examples: [
      `pyro workspace create ${DEFAULT_ENVIRONMENT} --seed-path ./repo`,
      "pyro workspace exec WORKSPACE_ID -- git status",
    ],
  },
  "workspace sync": {
    description: "Copy host content into a running workspace.",
    examples: ["pyro workspace sync push WORKSPACE_ID ./changes"],
  },
  "workspace snapshot": {
    description: "Named snapshots of /workspace (the create-time baseline is always there).",
    examples: ["pyro workspace snapshot create WORKSPACE_ID checkpoint"],
  },
  "workspace shell": {
    description: "Interactive PTY shells that keep cwd, env and running programs across calls.",
    examples: [
      "pyro workspace shell open WORKSPACE_ID",
      "pyro workspace shell write WORKSPACE_ID shell-1 --input 'cd src && export DEBUG=1'",
      "pyro workspace shell read WORKSPACE_ID shell-1 --wait-for-idle-ms 500 --plain",
    ],
  },
  "workspace service": {
    description: "Named background services (dev servers, databases) with readiness probes.",
    examples: [
      "pyro workspace service start WORKSPACE_ID app --ready-file .ready -- sh -lc 'touch .ready && while true; do sleep 60; done'",
      "pyro workspace service logs WORKSPACE_ID app",
    ],
  },
};

function group(parent: Command, path: readonly string[]): Command {
  let current = parent;
  path.forEach((word, index) => {
    const existing = current.commands.find((c) => c.name() === word);
    if (existing) {
      current = existing;
      return;
    }
    const info = GROUPS[path.slice(0, index + 1).join(" ")];
    current = current.command(word).description(info?.description ?? word);
    if (info)
      current.addHelpText("after", `\nExamples:\n${info.examples.map((e) => `  ${e}`).join("\n")}`);
  });
  return current;
}

/** The whole CLI, built from the operation declarations without side effects (runCli in parse.ts runs it). */
export function buildProgram(ctx: CliContext = createContext()): Command {
  const program = new Command()
    .name("pyro")
    .description("Disposable, hardware-isolated Linux workspaces in microVMs, for coding agents.")
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", FIRST_PATH);
  for (const [name, op] of Object.entries(OPERATIONS)) {
    if (!op.cli) continue;
    const parent = group(program, op.cli.path.slice(0, -1));
    addOperationCommand(parent, op, ctx, CLI_STREAMING[name as OperationName]);
  }
  registerDemo(program, ctx);
  registerMcp(program, ctx);
  return program;
}
