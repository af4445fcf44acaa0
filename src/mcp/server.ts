import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { WorkspaceManager } from "../core/manager.js";
import { toPyroError } from "../core/errors.js";
import { VERSION } from "../version.js";
import type { McpTool } from "../contract.js";

/**
 * The MCP surface: one tool per manager operation. Inputs are checked by zod schemas at the edge
 * and ranges by the manager; every result is the same JSON object the CLI prints with `--json`,
 * returned as structured content. Failures come back as tool errors, never as a server crash.
 */
export function createServer(manager: WorkspaceManager): McpServer {
  const server = new McpServer({ name: "pyro", version: VERSION });
  const tool = <Shape extends z.ZodRawShape>(
    name: McpTool,
    description: string,
    inputSchema: Shape,
    run: (args: z.objectOutputType<Shape, z.ZodTypeAny>) => Promise<object>,
  ) => {
    server.registerTool(name, { description, inputSchema }, (async (
      args: z.objectOutputType<Shape, z.ZodTypeAny>,
    ) => respond(() => run(args))) as never);
  };

  tool(
    "vm_run",
    "Run one shell command in a fresh, disposable microVM and return its output and exit code. " +
      "The VM is deleted afterwards. Example: environment debian:12, command `git --version`.",
    {
      environment: z
        .string()
        .describe("Environment name, e.g. debian:12 (see vm_list_environments)."),
      command: z.string().describe("One shell command string, run with /bin/sh -c in the guest."),
      vcpu_count: z.number().int().optional().describe("Virtual CPUs (default 1)."),
      mem_mib: z.number().int().optional().describe("Memory in MiB (default 1024)."),
      timeout_seconds: z.number().int().optional().describe("Command timeout (default 30)."),
      ttl_seconds: z
        .number()
        .int()
        .optional()
        .describe("Upper bound on the VM's life (default 600)."),
      network: z
        .boolean()
        .optional()
        .describe("Give the guest user-mode network egress (default off)."),
    },
    (args) =>
      manager.runInVm({
        environment: args.environment,
        command: args.command,
        ...(args.vcpu_count !== undefined ? { vcpuCount: args.vcpu_count } : {}),
        ...(args.mem_mib !== undefined ? { memMib: args.mem_mib } : {}),
        ...(args.timeout_seconds !== undefined ? { timeoutSeconds: args.timeout_seconds } : {}),
        ...(args.ttl_seconds !== undefined ? { ttlSeconds: args.ttl_seconds } : {}),
        ...(args.network !== undefined ? { network: args.network } : {}),
      }),
  );

  tool(
    "vm_list_environments",
    "List the environments pyro can boot (debian:12, debian:12-base, debian:12-build) and whether each is installed.",
    {},
    () => manager.listEnvironments(),
  );

  return server;
}

async function respond(run: () => Promise<object>): Promise<CallToolResult> {
  try {
    const payload = await run();
    return {
      content: [{ type: "text", text: JSON.stringify(payload, null, 2) }],
      structuredContent: payload as Record<string, unknown>,
    };
  } catch (error) {
    const typed = toPyroError(error);
    const text = [`${typed.code}: ${typed.message}`, typed.hint ? `hint: ${typed.hint}` : ""]
      .filter(Boolean)
      .join("\n");
    return {
      isError: true,
      content: [{ type: "text", text }],
      structuredContent: { error: typed.toJSON() },
    };
  }
}
