import {
  ZodDiscriminatedUnion,
  ZodLiteral,
  ZodNullable,
  ZodObject,
  ZodOptional,
  type z,
} from "zod";
import { invalidArgument, PyroError } from "../core/errors.js";
import type { WorkspaceManager } from "../core/manager.js";
import { camel, kebab, snake, type OperationHooks, type Operation } from "./define.js";
import { rewriteCommands, rewriteFlags } from "./hint-wording.js";
import { OPERATION_LIST } from "./index.js";

/**
 * The one validation path. Every surface turns its arguments into the snake_case input object and
 * validates it with the declaration's schema here, so the CLI, the SDK and MCP reject the same
 * input with the same code (INVALID_ARGUMENT) and a message naming the field the way that surface
 * spells it: `--mem-mib` on the CLI, `mem_mib` in MCP, `memMib` in the SDK.
 */
export type Surface = "cli" | "mcp" | "sdk";

export function fieldLabel(op: Operation, field: string, surface: Surface): string {
  if (surface === "mcp") return field;
  if (surface === "sdk") return camel(field);
  const cli = op.cli;
  if (cli?.tail === field) return "the command after `--`";
  if (cli?.args?.includes(field)) return kebab(field).toUpperCase().replace(/-/g, "_");
  // A field filled by exactly one flag of its own (published_ports by --publish) is that flag.
  const folded = (cli?.extra?.options ?? []).filter((o) => o.field === field);
  if (folded.length === 1) return folded[0]?.flag.split(" ")[0] ?? field;
  return (cli?.flags as Record<string, string> | undefined)?.[field] ?? `--${kebab(field)}`;
}

function surfaceHint(op: Operation, surface: Surface): string {
  if (surface === "cli" && op.cli) return `See \`pyro ${op.cli.path.join(" ")} --help\`.`;
  if (surface === "mcp" && op.mcp) return `See the inputSchema of the ${op.mcp.tool} tool.`;
  return `See the options of ${op.sdk}() in the SDK documentation.`;
}

function valueAt(raw: Record<string, unknown>, path: readonly (string | number)[]): unknown {
  let value: unknown = raw;
  for (const key of path) {
    value =
      value !== null && typeof value === "object"
        ? (value as Record<string | number, unknown>)[key]
        : undefined;
  }
  return value;
}

function unknownArguments(op: Operation, names: readonly string[], surface: Surface): PyroError {
  const known = Object.keys(op.input.shape)
    .filter((field) => surface !== "sdk" || !op.sdkArgs.includes(field))
    .map((field) => fieldLabel(op, field, surface));
  return invalidArgument(
    `unknown argument${names.length > 1 ? "s" : ""} ${names.map((n) => `"${n}"`).join(", ")}`,
    known.length > 0 ? `Accepted: ${known.join(", ")}.` : "This operation takes no arguments.",
  );
}

export function invalidInput(
  op: Operation,
  error: z.ZodError,
  raw: Record<string, unknown>,
  surface: Surface,
): PyroError {
  // An unknown argument is named first: it is usually the cause of the other complaints.
  const issue =
    error.issues.find((i) => i.code === "unrecognized_keys" && i.path.length === 0) ??
    error.issues[0];
  const label = (field: string) => fieldLabel(op, field, surface);
  if (!issue) return invalidArgument("invalid arguments", surfaceHint(op, surface));
  if (issue.code === "unrecognized_keys" && issue.path.length === 0) {
    return unknownArguments(
      op,
      issue.keys.map((k) => (surface === "sdk" ? camel(k) : k)),
      surface,
    );
  }
  const [field = "", ...rest] = issue.path.map(String);
  const name = [label(field), ...rest].join(".");
  // A secret's value is never echoed, even when it is the wrong type.
  const value = field === "secrets" ? "[REDACTED]" : valueAt(raw, issue.path);
  if (surface === "cli" && op.cli?.tail === field && (value === undefined || value === "")) {
    return invalidArgument(
      "the command is empty",
      `Give the command after \`--\`, e.g. \`${op.cli.examples[0] ?? ""}\`.`,
    );
  }
  if (issue.code === "invalid_type" && issue.received === "undefined") {
    return invalidArgument(`${name} is required`, surfaceHint(op, surface));
  }
  const rule =
    issue.code === "invalid_type" && issue.message.startsWith("Expected")
      ? `must be ${issue.expected}`
      : issue.message;
  // A structured field (readiness) says which shapes it takes, not only what was wrong.
  const shape = expectedShape(op.input.shape[field] as z.ZodTypeAny | undefined);
  const expected = shape ? `; ${label(field)} must be ${shape}` : "";
  return invalidArgument(
    `${name} ${rule}, got ${JSON.stringify(value)}${expected}`,
    surfaceHint(op, surface),
  );
}

function unwrapOptional(schema: z.ZodTypeAny): z.ZodTypeAny {
  let inner = schema;
  while (inner instanceof ZodOptional || inner instanceof ZodNullable)
    inner = inner.unwrap() as z.ZodTypeAny;
  return inner;
}

function describeObject(schema: z.ZodTypeAny): string {
  if (!(schema instanceof ZodObject)) return "?";
  const parts = Object.entries(schema.shape as Record<string, z.ZodTypeAny>).map(([key, value]) => {
    const inner = unwrapOptional(value);
    const type = inner instanceof ZodLiteral ? JSON.stringify(inner.value) : inner._def.typeName;
    return `"${key}": ${String(type).replace(/^Zod/, "").toLowerCase()}`;
  });
  return `{${parts.join(", ")}}`;
}

/** The shapes an object or tagged-union field accepts, e.g. `{"type": "file", "path": string} | ...`. */
function expectedShape(schema: z.ZodTypeAny | undefined): string | null {
  if (schema === undefined) return null;
  const inner = unwrapOptional(schema);
  if (inner instanceof ZodDiscriminatedUnion)
    return (inner.options as z.ZodTypeAny[]).map(describeObject).join(" | ");
  if (inner instanceof ZodObject) return describeObject(inner);
  return null;
}

export function parseInput<O extends Operation>(
  op: O,
  raw: Record<string, unknown>,
  surface: Surface,
): z.output<O["input"]> {
  const result = op.input.safeParse(raw);
  if (!result.success) throw invalidInput(op, result.error, raw, surface);
  return result.data as z.output<O["input"]>;
}

/** Validate raw input for `surface` and run the operation; errors name fields the surface's way. */
export async function invoke(
  op: Operation,
  manager: WorkspaceManager,
  raw: Record<string, unknown>,
  hooks: OperationHooks,
  surface: Surface,
): Promise<unknown> {
  const input = parseInput(op, raw, surface);
  try {
    return await op.run(manager, input, hooks);
  } catch (error) {
    throw error instanceof PyroError ? inSurfaceTerms(op, error, surface) : error;
  }
}

/**
 * Core error texts are written once, in CLI terms: flags (`--mem-mib / mem_mib`, `--seed-path`)
 * and commands (`pyro workspace reset ID`). Over MCP and the SDK each command becomes the tool or
 * method call that does the same (hint-wording.ts), each flag of this operation becomes its field
 * as the surface spells it (`mem_mib`, `memMib`), and any other flag the field it stands for.
 */
export function surfaceWording(op: Operation, text: string, surface: Surface): string {
  const fieldOfFlag = new Map<string, string>();
  for (const field of Object.keys(op.input.shape))
    fieldOfFlag.set(fieldLabel(op, field, "cli"), field);
  for (const extra of op.cli?.extra?.options ?? [])
    fieldOfFlag.set(extra.flag.split(" ")[0] ?? extra.flag, extra.field);
  const label = (path: string) => {
    const [field = "", ...rest] = path.split(".");
    return [fieldLabel(op, field, surface), ...rest].join(".");
  };
  if (surface === "cli") return text.replace(/(--[a-z][a-z-]*) \/ ([a-z_.]+)/g, "$1");
  const ops = OPERATION_LIST;
  const commands = rewriteCommands(ops, text, surface);
  const own = commands.text
    .replace(/(--[a-z][a-z-]*) \/ ([a-z_.]+)/g, (_, _flag: string, path: string) => label(path))
    .replace(/--[a-z][a-z-]*/g, (flag) => {
      const field = fieldOfFlag.get(flag);
      return field === undefined ? flag : fieldLabel(op, field, surface);
    });
  return commands.restore(rewriteFlags(ops, own, surface));
}

function inSurfaceTerms(op: Operation, error: PyroError, surface: Surface): PyroError {
  const message = surfaceWording(op, error.message, surface);
  const hint = error.hint === undefined ? undefined : surfaceWording(op, error.hint, surface);
  if (message === error.message && hint === error.hint) return error;
  return new PyroError(error.code, message, {
    ...(hint !== undefined ? { hint } : {}),
    ...(error.details !== undefined ? { details: error.details } : {}),
    cause: error,
  });
}

/**
 * An SDK call's arguments as raw input: the positional parameters, then the options object with
 * its camelCase keys turned snake_case and its callbacks set apart. A key that is not the
 * camelCase of an input field (`mem_mib`, `bogus`) is rejected by name.
 */
export function sdkCall(
  op: Operation,
  args: readonly unknown[],
): { raw: Record<string, unknown>; hooks: OperationHooks } {
  const raw: Record<string, unknown> = {};
  const hooks: Record<string, unknown> = {};
  op.sdkArgs.forEach((field, index) => (raw[field] = args[index]));
  const options = args[op.sdkArgs.length] ?? {};
  if (typeof options !== "object" || options === null) {
    throw invalidArgument(
      `${op.sdk}() takes an options object after its ${op.sdkArgs.length} positional argument(s)`,
      surfaceHint(op, "sdk"),
    );
  }
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    const field = snake(key);
    if ((op.hooks as readonly string[]).includes(key)) hooks[key] = value;
    else if (camel(field) !== key || op.sdkArgs.includes(field) || !(field in op.input.shape))
      unknown.push(key);
    else if (value !== undefined) raw[field] = value;
  }
  if (unknown.length > 0) throw unknownArguments(op, unknown, "sdk");
  return { raw, hooks: hooks as OperationHooks };
}
