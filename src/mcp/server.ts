import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  McpError,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import type { WorkspaceManager } from "../core/manager.js";
import { PyroError, toPyroError } from "../core/errors.js";
import { VERSION } from "../version.js";
import { OPERATION_LIST, type AnyOperation } from "../operations/index.js";
import { invoke } from "../operations/invoke.js";

/**
 * The MCP surface, built from the operation declarations: one tool per declaration that has an
 * MCP name, with its title, description, strict input schema, output schema and annotations.
 * Every result is the JSON object the CLI prints with `--json`, returned as structured content;
 * failures come back as tool errors whose text starts with the error code, never a server crash.
 */
export function createServer(manager: WorkspaceManager): McpServer {
  const server = new McpServer({ name: "pyro", version: VERSION });
  const tools = new Map<string, AnyOperation>();
  for (const op of OPERATION_LIST) {
    if (!op.mcp) continue;
    tools.set(op.mcp.tool, op);
    server.registerTool(
      op.mcp.tool,
      {
        title: op.mcp.title,
        description: op.description,
        inputSchema: op.input,
        outputSchema: op.output,
        annotations: { title: op.mcp.title, ...op.hints, openWorldHint: false },
      },
      (args: Record<string, unknown>) => respond(op, () => invoke(op, manager, args, {}, "mcp")),
    );
  }
  // Calls go through the same validation as the CLI and the SDK (src/operations/invoke.ts), so a
  // bad or unknown argument is an INVALID_ARGUMENT tool error naming it. The SDK's own check would
  // answer with a generic "Input validation error" text instead, so tools/call is served here;
  // tools/list stays the SDK's, generated from the same schemas.
  server.server.removeRequestHandler("tools/call");
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const op = tools.get(request.params.name);
    if (!op) throw new McpError(ErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
    // notifications/cancelled aborts extra.signal: operations that take a signal stop there.
    const hooks = op.hooks.includes("signal") ? { signal: extra.signal } : {};
    return respond(op, () => invoke(op, manager, request.params.arguments ?? {}, hooks, "mcp"));
  });
  return server;
}

async function respond(op: AnyOperation, run: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    const payload = await run();
    // The result must match the advertised outputSchema; a mismatch is a bug, reported as such.
    const checked = op.output.safeParse(payload);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new PyroError(
        "INTERNAL",
        `${op.mcp?.tool ?? op.sdk} returned a payload that does not match its outputSchema: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`,
        { hint: "This is a bug in pyro; please report it with the tool call." },
      );
    }
    return {
      content: [{ type: "text", text: JSON.stringify(payload, null, 2) }],
      structuredContent: payload as Record<string, unknown>,
    };
  } catch (error) {
    const typed = toPyroError(error);
    const text = [`${typed.code}: ${typed.message}`, typed.hint ? `hint: ${typed.hint}` : ""]
      .filter(Boolean)
      .join("\n");
    // No structuredContent: clients check it against the tool's outputSchema even on errors.
    // The error object rides along as JSON in a second text item.
    return {
      isError: true,
      content: [
        { type: "text", text },
        { type: "text", text: JSON.stringify({ error: typed.toJSON() }) },
      ],
    };
  }
}
