import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Command } from "commander";
import { createServer } from "../../mcp/server.js";
import type { CliContext } from "../context.js";

export function registerMcp(program: Command, ctx: CliContext): void {
  const mcp = program.command("mcp").description("Serve pyro to MCP clients.");
  mcp
    .command("serve")
    .description("Expose pyro's tools to an MCP client over stdio.")
    .addHelpText(
      "after",
      '\nUse it from an MCP client config once `pyro run` works on this host:\n  {"mcpServers": {"pyro": {"command": "pyro", "args": ["mcp", "serve"]}}}\n\nExample:\n  pyro mcp serve',
    )
    .action(async () => {
      const server = createServer(ctx.manager());
      await server.connect(new StdioServerTransport());
      // Stay up until the client closes stdin.
      await new Promise<void>((resolve) => process.stdin.once("close", resolve));
      await server.close();
    });
}
