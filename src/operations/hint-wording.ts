import { z } from "zod";
import { camel, kebab, type Operation } from "./define.js";

/**
 * Core error texts name CLI commands (`pyro workspace reset ID --snapshot NAME`) because they are
 * written once, in core. Over MCP and the SDK such a command becomes the call that does the same
 * thing there: a tool and its arguments (`workspace_reset {"workspace_id":"ID","snapshot":"NAME"}`)
 * or a method call (`resetWorkspace("ID", { snapshot: "NAME" })`), found through the operation
 * declarations' CLI paths. A flag left over anywhere else becomes the field it stands for.
 */
type Surface = "mcp" | "sdk";

/** Words of a command, with quotes removed; everything after `--` is kept as one string. */
function tokenize(command: string): { words: string[]; tail: string | null } {
  const words: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(command)) !== null) {
    if (match[3] === "--") return { words, tail: command.slice(re.lastIndex).trim() };
    words.push(match[1] ?? match[2] ?? match[3] ?? "");
  }
  return { words, tail: null };
}

function longestMatch(ops: readonly Operation[], words: string[]): Operation | undefined {
  let best: Operation | undefined;
  for (const op of ops) {
    const path = op.cli?.path;
    if (!path || path.length > words.length || !path.every((w, i) => words[i] === w)) continue;
    if (!best || path.length > (best.cli?.path.length ?? 0)) best = op;
  }
  return best;
}

/** The flags of every declared command, as the input field each stands for. */
function flagFields(ops: readonly Operation[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const op of ops) {
    const cli = op.cli;
    if (!cli) continue;
    for (const field of Object.keys(op.input.shape)) {
      if (cli.args?.includes(field) || cli.tail === field) continue;
      map.set(
        (cli.flags as Record<string, string> | undefined)?.[field] ?? `--${kebab(field)}`,
        field,
      );
    }
    for (const extra of cli.extra?.options ?? [])
      map.set(extra.flag.split(" ")[0] ?? extra.flag, extra.field);
  }
  return map;
}

function renderCall(op: Operation, words: string[], tail: string | null, surface: Surface): string {
  const cli = op.cli;
  const input: Record<string, unknown> = {};
  const rest = words.slice(cli?.path.length ?? 0);
  const flags = flagFields([op]);
  let positional = 0;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as string;
    if (word.startsWith("--")) {
      const field = flags.get(word);
      if (field === undefined) continue; // --json and the like have no counterpart
      const next = rest[i + 1];
      let schema = (op.input.shape as Record<string, z.ZodTypeAny>)[field];
      while (schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodTypeAny;
      const isBoolean = schema instanceof z.ZodBoolean;
      if (isBoolean || next === undefined || next.startsWith("--")) input[field] = true;
      else {
        input[field] = next;
        i += 1;
      }
    } else {
      const field = cli?.args?.[positional++];
      if (field !== undefined) input[field] = word.replace(/^\[(.*)\]$/, "$1");
    }
  }
  if (tail !== null && cli?.tail) input[cli.tail] = tail;
  if (surface === "mcp") {
    const args = Object.keys(input).length > 0 ? ` ${JSON.stringify(input)}` : "";
    return `\`${op.mcp?.tool ?? op.sdk}${args}\``;
  }
  const positionalArgs = op.sdkArgs.filter((f) => f in input).map((f) => JSON.stringify(input[f]));
  const options = Object.entries(input)
    .filter(([f]) => !op.sdkArgs.includes(f))
    .map(([f, v]) => `${camel(f)}: ${JSON.stringify(v)}`);
  const all = [...positionalArgs, ...(options.length > 0 ? [`{ ${options.join(", ")} }`] : [])];
  return `\`${op.sdk}(${all.join(", ")})\``;
}

/** A CLI command with no counterpart on this surface (env pull, mcp serve): the host's CLI. */
function hostCommand(words: string[]): string {
  return `\`${words.filter((w) => !w.startsWith("--")).join(" ")}\` with pyro's CLI on the host`;
}

/**
 * Commands replaced by their calls. The calls are held out of the text (as placeholders) until
 * `restore`, so the flag rewriting that follows cannot touch a command's own words (`git --version`).
 */
export function rewriteCommands(
  ops: readonly Operation[],
  text: string,
  surface: Surface,
): { text: string; restore(text: string): string } {
  const calls: string[] = [];
  const held = text.replace(/`pyro ([^`]*)`/g, (_whole, command: string) => {
    const { words, tail } = tokenize(command);
    const op = longestMatch(ops, words);
    calls.push(
      !op || (surface === "mcp" && !op.mcp)
        ? hostCommand(words)
        : renderCall(op, words, tail, surface),
    );
    return `\ue000${calls.length - 1}\ue000`;
  });
  return {
    text: held,
    restore: (done) =>
      done.replace(/\ue000(\d+)\ue000/g, (_m, i: string) => calls[Number(i)] ?? ""),
  };
}

/** Flags no longer inside a command: the field each stands for, spelled for the surface. */
export function rewriteFlags(ops: readonly Operation[], text: string, surface: Surface): string {
  const fields = flagFields(ops);
  return text
    .replace(/the command after `--`/g, "the command")
    .replace(/(^|[\s`(])--([a-z][a-z-]*)/g, (whole, before: string, name: string) => {
      const field = fields.get(`--${name}`) ?? name.replace(/-/g, "_");
      return `${before}${surface === "sdk" ? camel(field) : field}`;
    });
}
