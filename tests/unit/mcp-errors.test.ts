import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkspaceManager } from "../../src/core/manager.js";
import { createServer, mcpWording } from "../../src/mcp/server.js";

type ToolError = { error: { code: string; message: string; hint?: string } };

/** An MCP client hears tool parameter names in errors, not the CLI's flags. */
describe("mcp errors", () => {
  let client: Client;
  beforeAll(async () => {
    const server = createServer(new WorkspaceManager());
    client = new Client({ name: "mcp-errors-test", version: "1.0.0" });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  });
  afterAll(async () => client.close());

  const callError = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args });
    expect(result.isError).toBe(true);
    return (result.structuredContent as ToolError).error;
  };

  it("mcp: a range error names the parameter, not the flag", async () => {
    const error = await callError("vm_run", {
      environment: "debian:12",
      command: "true",
      mem_mib: 10,
    });
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain("mem_mib");
    expect(error.message).not.toContain("--mem-mib");
  });

  it("mcp: a missing seed names seed_path in its hint", async () => {
    const error = await callError("workspace_create", {
      environment: "debian:12",
      seed_path: "/nonexistent/pyro-seed",
    });
    expect(error.code).toBe("SEED_NOT_FOUND");
    expect(`${error.message} ${error.hint}`).not.toContain("--seed-path");
    expect(error.hint).toContain("seed_path");
  });

  it("mcp: wording maps flags to this tool's parameters and leaves the rest", () => {
    const params = ["workspace_id", "path", "output_path", "overwrite"];
    expect(mcpWording("Choose another --output, or pass --overwrite to replace it.", params)).toBe(
      "Choose another output_path, or pass overwrite to replace it.",
    );
    expect(mcpWording("--cols / cols must be from 1 to 1000", [])).toBe(
      "cols must be from 1 to 1000",
    );
    expect(mcpWording("try `pyro run debian:12 -- git --version`", params)).toBe(
      "try `pyro run debian:12 -- git --version`",
    );
  });
});
