import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { z } from "zod";
import { WorkspaceManager, type ManagerOptions } from "../core/manager.js";
import { createServer, type ServerOptions } from "../mcp/server.js";
import { OPERATIONS, type Operations } from "../operations/index.js";
import type { Camelize, OperationHooks } from "../operations/define.js";
import { invoke, sdkCall } from "../operations/invoke.js";

export type PyroOptions = ManagerOptions;

/** Input of an operation as the SDK takes it (camelCase, z.input of the declaration's schema). */
type InputOf<D> = D extends { input: z.ZodTypeAny } ? z.input<D["input"]> : never;
type PositionalOf<D> = D extends { sdkArgs: infer P extends readonly string[] } ? P : [];
type HooksOf<D> = D extends { hooks: readonly (infer H extends keyof OperationHooks)[] }
  ? H
  : never;
type Values<T, P extends readonly string[]> = {
  -readonly [I in keyof P]: P[I] extends keyof T ? T[P[I]] : never;
};

/** The options object: the non-positional fields in camelCase, plus the operation's callbacks. */
export type SdkOptions<D> = Camelize<Omit<InputOf<D>, PositionalOf<D>[number]>> &
  Pick<OperationHooks, HooksOf<D>>;
type OptionsParam<O> = Partial<O> extends O ? [options?: O] : [options: O];

/** One SDK method: positional parameters, then options; resolves to the operation's payload. */
export type SdkMethod<D> = (
  ...args: [...Values<InputOf<D>, PositionalOf<D>>, ...OptionsParam<SdkOptions<D>>]
) => Promise<D extends { output: z.ZodTypeAny } ? z.output<D["output"]> : never>;

/** The result type of an SDK method, e.g. `SdkResult<"execWorkspace">`. */
export type SdkResult<K extends keyof Operations> = Awaited<ReturnType<SdkMethod<Operations[K]>>>;

/** Every operation as a typed method; the descriptions are in docs/public-contract.md and MCP. */
export type PyroMethods = { [K in keyof Operations]: SdkMethod<Operations[K]> };

class PyroClient {
  readonly manager: WorkspaceManager;

  constructor(options: PyroOptions = {}) {
    this.manager = new WorkspaceManager(options);
  }

  /** An MCP server exposing this SDK's manager as tools; connect it to any transport. */
  createServer(options: ServerOptions = {}): McpServer {
    return createServer(this.manager, options);
  }
}

// One generic dispatcher per declaration: SDK arguments -> validated input -> manager call.
for (const [name, op] of Object.entries(OPERATIONS)) {
  Object.defineProperty(PyroClient.prototype, name, {
    value: function (this: PyroClient, ...args: unknown[]) {
      return Promise.resolve().then(() => {
        const { raw, hooks } = sdkCall(op, args);
        return invoke(op, this.manager, raw, hooks, "sdk");
      });
    },
    writable: true,
    configurable: true,
  });
}

/**
 * The TypeScript SDK. Methods return the same JSON payloads the CLI prints with `--json` and the
 * MCP tools return; failures throw `PyroError` with a stable `code` and a `hint`. Bad input is
 * INVALID_ARGUMENT naming the option (`memMib`), unknown options included.
 *
 *   const pyro = new Pyro();
 *   const result = await pyro.runInVm({ environment: "debian:12", command: "git --version" });
 *   await pyro.execWorkspace(workspaceId, { command: "make test", timeoutSeconds: 60 });
 */
export type Pyro = PyroClient & PyroMethods;
export const Pyro = PyroClient as unknown as {
  new (options?: PyroOptions): Pyro;
  readonly prototype: Pyro;
};

/** Options of `runInVm` (kept for callers of the 2.8 SDK). */
export type RunInVmOptions = SdkOptions<Operations["runInVm"]>;
