import { Command } from "commander";
import { VERSION } from "../version.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerEnv } from "./commands/env.js";
import { registerMcp } from "./commands/mcp.js";
import { registerRun } from "./commands/run.js";
import { registerWorkspace } from "./commands/workspace.js";
import { createContext, type CliContext } from "./context.js";

const FIRST_PATH = `
Suggested first path:
  pyro doctor
  pyro env list
  pyro env pull debian:12
  pyro run debian:12 -- git --version
Use \`pyro mcp serve\` only after the CLI path above works.`;

/** The whole CLI, built without side effects so tests can walk it against the contract. */
export function buildProgram(ctx: CliContext = createContext()): Command {
  const program = new Command()
    .name("pyro")
    .description("Disposable, hardware-isolated Linux workspaces in microVMs, for coding agents.")
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", FIRST_PATH);
  registerDoctor(program, ctx);
  registerEnv(program, ctx);
  registerRun(program, ctx);
  registerWorkspace(program, ctx);
  registerMcp(program, ctx);
  return program;
}
