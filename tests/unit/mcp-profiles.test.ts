import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { describe, expect, it } from "vitest";
import { WorkspaceManager } from "../../src/core/manager.js";
import { createServer } from "../../src/mcp/server.js";
import type { McpProfile } from "../../src/operations/define.js";
import { OPERATION_LIST } from "../../src/operations/index.js";

async function connect(profile?: McpProfile): Promise<Client> {
  const server = createServer(new WorkspaceManager(), profile ? { profile } : {});
  const client = new Client({ name: "profiles-test", version: "1.0.0" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

const CORE = [
  "workspace_create",
  "workspace_delete",
  "workspace_diff",
  "workspace_exec",
  "workspace_export",
  "workspace_file_list",
  "workspace_file_read",
  "workspace_file_write",
  "workspace_list",
  "workspace_logs",
  "workspace_patch_apply",
  "workspace_reset",
  "workspace_status",
  "workspace_summary",
  "workspace_sync_push",
];

describe("MCP profiles", () => {
  it("workspace-full is the default and serves every declared tool, with instructions", async () => {
    const client = await connect();
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(OPERATION_LIST.flatMap((op) => (op.mcp ? [op.mcp.tool] : [])).sort());
    const instructions = client.getInstructions() ?? "";
    for (const word of [
      "workspace_create",
      "workspace_exec",
      "workspace_diff",
      "snapshot_create",
      "workspace_reset",
      "workspace_export",
    ])
      expect(instructions).toContain(word);
    await client.close();
  });

  it("vm-run serves only vm_run", async () => {
    const client = await connect("vm-run");
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["vm_run"]);
    expect(client.getInstructions()).toContain("vm_run");
    await client.close();
  });

  it("workspace-core serves the loop with narrowed schemas; a hidden field is refused", async () => {
    const client = await connect("workspace-core");
    const tools = (await client.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(CORE);
    const reset = tools.find((t) => t.name === "workspace_reset");
    expect(Object.keys(reset?.inputSchema.properties ?? {})).toEqual(["workspace_id"]);
    const create = tools.find((t) => t.name === "workspace_create");
    expect(Object.keys(create?.inputSchema.properties ?? {})).not.toContain("allow_host_compat");
    expect(client.getInstructions()).not.toContain("snapshot_create");
    const refused = await client.callTool({
      name: "workspace_reset",
      arguments: { workspace_id: "0123456789ab", snapshot: "x" },
    });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain(
      'INVALID_ARGUMENT: unknown argument \\"snapshot\\"',
    );
    await expect(client.callTool({ name: "snapshot_create", arguments: {} })).rejects.toThrow(
      /Tool snapshot_create not found/,
    );
    await client.close();
  });
});
