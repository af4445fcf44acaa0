import { z } from "zod";
import type { WorkspaceManager } from "../core/manager.js";
import type { RunOptions } from "../core/run.js";
import type { ProgressListener } from "../environments/build.js";

/**
 * The shape of one operation's declaration. Each operation of the product is declared once, in
 * `src/operations/<group>.ts`: its names on every surface, one input schema (snake_case, with
 * ranges, patterns and enums), its output schema, a description that says when to use it, its
 * behaviour hints, the manager call and the CLI's human printer. The MCP server, the CLI and the
 * SDK are built from these declarations (src/mcp/server.ts, src/cli/operation-command.ts,
 * src/sdk/pyro.ts); the contract test and docs/public-contract.md are checked against them.
 */

/** Callbacks an SDK or CLI caller can pass beside the input: streaming, progress, cancellation. */
export interface OperationHooks {
  onStdout?: RunOptions["onStdout"];
  onStderr?: RunOptions["onStderr"];
  onBooted?: RunOptions["onBooted"];
  onPullProgress?: ProgressListener;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}
export type HookName = keyof OperationHooks;

/** MCP tool annotations; every declaration states all three. */
export interface BehaviourHints {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
}

/**
 * The five kinds of operation pyro has, as MCP behaviour hints: reads; calls that add something
 * new each time (create, exec, start); calls that change state but can be repeated (write,
 * resize); calls that destroy (delete, stop, reset), once or repeatably.
 */
export const HINTS = {
  read: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  add: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  update: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  destroy: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  destroyIdempotent: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
} as const satisfies Record<string, BehaviourHints>;

/** What the CLI prints in human mode: text for stdout and for stderr. */
export interface HumanOutput {
  stdout?: string;
  stderr?: string;
}

export type FieldName<I> = Extract<keyof I, string>;

export interface CliSpec<I> {
  /** Words after `pyro`, e.g. ["workspace", "exec"]. */
  path: readonly string[];
  /** Input fields given as positional arguments, in order. */
  args?: readonly FieldName<I>[];
  /** The input field that the words after `--` fill, joined into one shell command. */
  tail?: FieldName<I>;
  /** Flag spellings that are not `--<kebab-case of the field>`, e.g. output_path: "--output". */
  flags?: { [K in FieldName<I>]?: string };
  /** Flags that are not input fields and are folded into the input (service readiness). */
  extra?: {
    /** `field`: the input field the flag folds into, so error texts can name it per surface. */
    /** `repeatable`: the flag may be given several times; fold gets every value, in order. */
    options: readonly {
      flag: string;
      description: string;
      field: FieldName<I>;
      repeatable?: boolean;
    }[];
    fold(values: Record<string, string | string[] | undefined>): Partial<I>;
  };
  examples: readonly string[];
  /** More help text after the examples' heading line. */
  notes?: string;
}

export interface Operation<
  Shape extends z.ZodRawShape = z.ZodRawShape,
  Output extends z.ZodTypeAny = z.ZodTypeAny,
  Positional extends readonly FieldName<Shape>[] = readonly FieldName<Shape>[],
  Hook extends HookName = HookName,
> {
  /** SDK method name (camelCase of the original's Python name); also the operation's id. */
  sdk: string;
  /** Input fields the SDK method takes as positional parameters, in order; the rest is options. */
  sdkArgs: Positional;
  /** Callbacks the SDK method accepts in its options (not part of the input schema). */
  hooks: readonly Hook[];
  mcp: { tool: string; title: string } | null;
  cli: CliSpec<z.input<z.ZodObject<Shape>>> | null;
  /** Strict: unknown fields are rejected on every surface. */
  input: z.ZodObject<Shape, "strict">;
  output: Output;
  /** What it does and when to use it: MCP description and CLI help. */
  description: string;
  hints: BehaviourHints;
  run(
    manager: WorkspaceManager,
    input: z.output<z.ZodObject<Shape, "strict">>,
    hooks: Pick<OperationHooks, Hook>,
  ): Promise<z.input<Output>>;
  print(result: z.output<Output>): HumanOutput;
  /** CLI exit status from a result (the command's for run and exec); 0 when absent. */
  exitCode?(result: z.output<Output>): number;
}

type Declaration<
  Shape extends z.ZodRawShape,
  Output extends z.ZodTypeAny,
  Positional extends readonly FieldName<Shape>[],
  Hook extends HookName,
> = Omit<Operation<Shape, Output, Positional, Hook>, "input" | "hooks" | "sdkArgs"> & {
  input: Shape;
  sdkArgs?: Positional;
  hooks?: readonly Hook[];
};

/** Declare one operation; the input shape becomes a strict zod object. */
export function defineOperation<
  Shape extends z.ZodRawShape,
  Output extends z.ZodTypeAny,
  const Positional extends readonly FieldName<Shape>[] = readonly [],
  Hook extends HookName = never,
>(
  declaration: Declaration<Shape, Output, Positional, Hook>,
): Operation<Shape, Output, Positional, Hook> {
  return {
    ...declaration,
    sdkArgs: declaration.sdkArgs ?? ([] as unknown as Positional),
    hooks: declaration.hooks ?? [],
    input: z.object(declaration.input).strict(),
  };
}

/** snake_case to camelCase, in types and at run time. */
export type Camel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : S;
export type Camelize<T> = { [K in keyof T as K extends string ? Camel<K> : never]: T[K] };

export const camel = (snake: string): string =>
  snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
export const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const kebab = (name: string): string => name.replace(/_/g, "-");

/**
 * The manager's option object from validated snake_case input: camelCase keys, the positional
 * fields left out, absent fields dropped (so the manager's defaults apply).
 */
export function managerOptions<I extends object, K extends keyof I = never>(
  input: I,
  omit: readonly K[] = [],
): Camelize<Omit<I, K>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined && !(omit as readonly string[]).includes(key)) out[camel(key)] = value;
  }
  return out as Camelize<Omit<I, K>>;
}
