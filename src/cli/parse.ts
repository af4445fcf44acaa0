import { CommanderError, type Command } from "commander";
import { PyroError } from "../core/errors.js";
import { printJson, reportError } from "./output.js";

/**
 * Whether the user asked for JSON. Read from the raw words because a parse failure happens
 * before commander has any options to give; words after `--` belong to the guest command.
 */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes("--json");
}

/** A command-line mistake found by commander, with the command it was found in. */
class UsageError extends Error {
  constructor(
    readonly failure: CommanderError,
    readonly command: Command,
  ) {
    super(failure.message);
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Commander's text, e.g. "error: unknown option '--frob'\n(Did you mean --from?)", split up. */
function splitCommanderMessage(text: string): { message: string; suggestion: string } {
  const [first = "", ...rest] = text.replace(/^error: /, "").split("\n");
  const suggestion = rest
    .join(" ")
    .trim()
    .replace(/^\((.*)\)$/, "$1");
  return { message: first.trim(), suggestion };
}

/** The same typed error every other failure is: INVALID_ARGUMENT with a hint naming the help. */
export function usageErrorToPyro(failure: CommanderError, command: Command): PyroError {
  const path = commandPath(command);
  if (failure.code === "commander.help") {
    const subcommands = command.commands.map((c) => c.name()).join(", ");
    return new PyroError("INVALID_ARGUMENT", `\`${path}\` needs a subcommand`, {
      hint: `Give one of: ${subcommands} (see \`${path} --help\`).`,
    });
  }
  const { message, suggestion } = splitCommanderMessage(failure.message);
  const help =
    failure.code === "commander.unknownCommand"
      ? `Run \`${path} --help\` to list the commands.`
      : `Run \`${path} --help\` for usage.`;
  return new PyroError("INVALID_ARGUMENT", message, {
    hint: suggestion === "" ? help : `${suggestion} ${help}`,
  });
}

/**
 * Route every parse failure through one place. Commander's exits become thrown UsageErrors
 * (named by the command they happened in) and, under `--json`, commander prints nothing so the
 * failure can come out as the one JSON error object on stdout. This sits below the command
 * definitions, so it holds however the commands are declared.
 */
function routeParseFailures(command: Command, json: boolean): void {
  command.exitOverride((failure) => {
    throw new UsageError(failure, command);
  });
  if (json) command.configureOutput({ writeErr: () => undefined });
  for (const sub of command.commands) routeParseFailures(sub, json);
}

/** Parse and run the CLI; sets the exit status, never lets an error escape as a stack trace. */
export async function runCli(program: Command, argv: readonly string[]): Promise<void> {
  const json = wantsJson(argv.slice(2));
  routeParseFailures(program, json);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof UsageError) {
      // Help and version exit 0 after printing; real mistakes were already printed by
      // commander in human mode.
      if (error.failure.exitCode !== 0 && json) {
        printJson({ error: usageErrorToPyro(error.failure, error.command).toJSON() });
      }
      process.exitCode = error.failure.exitCode;
      return;
    }
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    process.exitCode = reportError(error, json);
  }
}
