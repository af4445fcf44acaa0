import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CLI } from "./paths.js";

/**
 * The official MCP client, talking to the built `pyro mcp serve` over stdio as an MCP host would
 * (same environment as the test, so the same state directory). `serveArgs` go after `serve`.
 */
export async function mcpClient(name = "pyro-test", serveArgs: string[] = []): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", "serve", ...serveArgs],
    env: { ...(process.env as Record<string, string>) },
    stderr: "inherit",
  });
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport);
  return client;
}
