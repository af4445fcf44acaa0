import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Command } from "commander";
import { createServer } from "../../mcp/server.js";
import { checkProfile } from "../../mcp/profiles.js";
import { DEFAULT_MCP_PROFILE, MCP_PROFILES } from "../../operations/define.js";
import type { CliContext } from "../context.js";

export function registerMcp(program: Command, ctx: CliContext): void {
  const mcp = program.command("mcp").description("Serve pyro to MCP clients.");
  mcp
    .command("serve")
    .description("Expose pyro's tools to an MCP client over stdio.")
    .option(
      "--profile <profile>",
      `tool set: ${MCP_PROFILES.join(" | ")} (default ${DEFAULT_MCP_PROFILE})`,
      DEFAULT_MCP_PROFILE,
    )
    .addHelpText(
      "after",
      '\nUse it from an MCP client config once `pyro run` works on this host:\n  {"mcpServers": {"pyro": {"command": "pyro", "args": ["mcp", "serve"]}}}\n\nExample:\n  pyro mcp serve\n  pyro mcp serve --profile workspace-core\n\nProfiles: vm-run serves only vm_run (one-shot commands); workspace-core the workspace loop (create, exec, file tools, patch, diff, reset, export, delete, summary); workspace-full everything (snapshots, services, shells, disk tools, the VM lifecycle).',
    )
    .action((options: { profile: string }) =>
      ctx.run(false, async () => {
        const server = createServer(ctx.manager(), { profile: checkProfile(options.profile) });
        await server.connect(new StdioServerTransport());
        // Stay up until the client closes stdin.
        await new Promise<void>((resolve) => process.stdin.once("close", resolve));
        await server.close();
      }),
    );
}
