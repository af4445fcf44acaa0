import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type {
  CallToolRequest,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import type { AnyOperation, OperationHooks } from "../operations/index.js";
import { MCP_DEFAULT_WAIT_SECONDS } from "../operations/output-fields.js";

/**
 * Long calls over MCP: a command waits at most MCP_DEFAULT_WAIT_SECONDS unless the call says
 * otherwise (clients time a request out at 60 s), the request's cancellation
 * (notifications/cancelled) reaches the operation as its AbortSignal, and a client that sent a
 * progressToken gets notifications/progress while a command runs.
 */
/** Tools whose wait_seconds means "return state running after this long". */
const RETURNS_RUNNING = ["workspace_exec", "vm_run"];

export function withMcpDefaults(
  op: AnyOperation,
  args: Record<string, unknown>,
): Record<string, unknown> {
  const takesWait = op.mcp !== null && RETURNS_RUNNING.includes(op.mcp.tool);
  return takesWait && args.wait_seconds === undefined
    ? { ...args, wait_seconds: MCP_DEFAULT_WAIT_SECONDS }
    : args;
}

export function mcpHooks(
  op: AnyOperation,
  request: CallToolRequest,
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
): OperationHooks {
  const hooks: OperationHooks = {};
  const declared = op.hooks as readonly string[];
  if (declared.includes("signal")) hooks.signal = extra.signal;
  const token = request.params._meta?.progressToken;
  if (token !== undefined && declared.includes("onCommandProgress")) {
    hooks.onCommandProgress = (p) => {
      const seconds = Math.round(p.elapsedMs / 1000);
      extra
        .sendNotification({
          method: "notifications/progress",
          params: {
            progressToken: token,
            progress: seconds,
            message: `${p.sequence > 0 ? `command ${p.sequence}` : "the command"} running for ${seconds} s; ${p.stdoutBytes} bytes of stdout, ${p.stderrBytes} of stderr`,
          },
        })
        .catch(() => undefined); // a client that went away needs no progress
    };
  }
  return hooks;
}
