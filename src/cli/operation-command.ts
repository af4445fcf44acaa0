import { Command } from "commander";
import { z } from "zod";
import type { AnyOperation, HumanOutput, OperationHooks } from "../operations/index.js";
import { invoke } from "../operations/invoke.js";
import type { CliContext } from "./context.js";
import { printJson, shellJoin } from "./output.js";
import { wantsJson } from "./parse.js";

/**
 * The CLI for one operation, built from its declaration: positional arguments, then one flag per
 * remaining input field (kebab-case; booleans as flags; `--no-x` for a field that defaults to
 * true), `--json`, help text from the description and the fields' descriptions. Flag values are
 * put into the snake_case input object as typed (whole numbers parsed), and the declaration's
 * schema validates them, the same check the SDK and MCP run.
 */
export interface CliHooks {
  hooks: OperationHooks;
  done(): void;
}
export type CliHookFactory = (json: boolean, input: Record<string, unknown>) => CliHooks;

const unwrap = (schema: z.ZodTypeAny): z.ZodTypeAny =>
  schema instanceof z.ZodOptional || schema instanceof z.ZodNullable
    ? unwrap(schema.unwrap() as z.ZodTypeAny)
    : schema;

const examplesText = (examples: readonly string[]) =>
  `\nExample${examples.length > 1 ? "s" : ""}:\n${examples.map((l) => `  ${l}`).join("\n")}`;

/** First sentence, for the parent command's list. */
const summaryOf = (description: string) => /^.*?\.(?=\s|$)/.exec(description)?.[0] ?? description;

/** A whole-number flag value as a number; anything else is left as the string for the schema to refuse. */
const numberValue = (text: string): number | string =>
  /^-?\d+$/.test(text.trim()) ? Number.parseInt(text, 10) : text;

export function addOperationCommand(
  parent: Command,
  op: AnyOperation,
  ctx: CliContext,
  hookFactory?: CliHookFactory,
): Command {
  const cli = op.cli;
  if (!cli) throw new Error(`${op.sdk} has no CLI declaration`);
  const shape = op.input.shape as Record<string, z.ZodTypeAny>;
  const flagFields: {
    field: string;
    attribute: string;
    kind: "boolean" | "number" | "string" | "list";
  }[] = [];
  const command = parent
    .command(cli.path[cli.path.length - 1] as string)
    .summary(summaryOf(op.description))
    .description(op.description);
  for (const field of cli.args ?? []) {
    const name = field.replace(/_/g, "-");
    // An optional input field given positionally is an optional argument, e.g. `disk list ID [PATH]`.
    const optional = shape[field]?.isOptional() === true;
    command.argument(optional ? `[${name}]` : `<${name}>`, shape[field]?.description ?? field);
  }
  if (cli.tail) command.argument(`[${cli.tail}...]`, "the command, after `--`");
  for (const [field, schema] of Object.entries(shape)) {
    if (cli.args?.includes(field) || cli.tail === field) continue;
    if ((cli.omit as readonly string[] | undefined)?.includes(field)) continue;
    // A field that flags of its own fold into (labels, readiness, published ports) has no other.
    if ((cli.extra?.options ?? []).some((o) => o.field === field)) continue;
    const inner = unwrap(schema);
    const kind =
      inner instanceof z.ZodBoolean
        ? "boolean"
        : inner instanceof z.ZodNumber
          ? "number"
          : inner instanceof z.ZodArray && inner.element instanceof z.ZodString
            ? "list"
            : "string";
    if (kind === "string" && !(inner instanceof z.ZodString || inner instanceof z.ZodEnum))
      continue;
    const flag =
      (cli.flags as Record<string, string> | undefined)?.[field] ?? `--${field.replace(/_/g, "-")}`;
    const placeholder = kind === "number" ? "<n>" : `<${flag.replace(/^--/, "").split("-").pop()}>`;
    if (kind === "list") {
      // A list field is a repeatable flag: `--include 'src/**' --include '*.md'`.
      command.option(
        `${flag} ${placeholder}`,
        `${schema.description ?? ""} (repeatable)`,
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      );
    } else {
      command.option(
        kind === "boolean" ? flag : `${flag} ${placeholder}`,
        schema.description ?? "",
      );
    }
    const option = command.options[command.options.length - 1];
    flagFields.push({ field, attribute: option?.attributeName() ?? field, kind });
  }
  for (const extra of cli.extra?.options ?? []) {
    if (extra.repeatable) {
      command.option(extra.flag, extra.description, (value: string, previous?: string[]) => [
        ...(previous ?? []),
        value,
      ]);
    } else command.option(extra.flag, extra.description);
  }
  command.option("--json", "print one JSON object instead of human output");
  command.addHelpText(
    "after",
    `${cli.notes ? `\n${cli.notes}\n` : ""}${examplesText(cli.examples)}`,
  );

  command.action(async (...actionArgs: unknown[]) => {
    const self = actionArgs[actionArgs.length - 1] as Command;
    const flags = self.opts<Record<string, string | string[] | boolean | undefined>>();
    // The raw words decide, as for parse errors: `--mem-mib --json` is JSON mode too.
    const json = flags.json === true || wantsJson(process.argv.slice(2));
    await ctx.run(json, async () => {
      const raw: Record<string, unknown> = {};
      (cli.args ?? []).forEach((field, index) => (raw[field] = self.processedArgs[index]));
      if (cli.tail) {
        raw[cli.tail] = shellJoin((self.processedArgs[cli.args?.length ?? 0] as string[]) ?? []);
      }
      for (const { field, attribute, kind } of flagFields) {
        const value = flags[attribute];
        if (value === undefined) continue;
        raw[field] = kind === "number" && typeof value === "string" ? numberValue(value) : value;
      }
      if (cli.extra)
        Object.assign(raw, cli.extra.fold(flags as Record<string, string | string[] | undefined>));
      const streaming = hookFactory?.(json, raw);
      try {
        const result = await invoke(op, ctx.manager(), raw, streaming?.hooks ?? {}, "cli");
        if (json) printJson(result);
        else writeHuman(op.print(result as never));
        return op.exitCode?.(result as never) ?? 0;
      } finally {
        streaming?.done();
      }
    });
  });
  return command;
}

function writeHuman(output: HumanOutput): void {
  if (output.stdout) process.stdout.write(output.stdout);
  if (output.stderr) process.stderr.write(output.stderr);
}
