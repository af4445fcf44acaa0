import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkspaceManager } from "../../src/core/manager.js";
import { createServer } from "../../src/mcp/server.js";
import { OPERATIONS } from "../../src/operations/index.js";
import { surfaceWording } from "../../src/operations/invoke.js";

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
    // The error object rides as JSON in the second text item (no structuredContent on errors).
    const content = result.content as { type: string; text: string }[];
    return (JSON.parse(content[1]?.text ?? "{}") as ToolError).error;
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

  it("mcp: wording maps flags to this tool's parameters and commands to tool calls", () => {
    const exportOp = OPERATIONS.exportWorkspace;
    expect(
      surfaceWording(
        exportOp,
        "Choose another --output, or pass --overwrite to replace it.",
        "mcp",
      ),
    ).toBe("Choose another output_path, or pass overwrite to replace it.");
    expect(surfaceWording(exportOp, "Choose another --output, or pass --overwrite.", "sdk")).toBe(
      "Choose another outputPath, or pass overwrite.",
    );
    expect(
      surfaceWording(OPERATIONS.resizeShell, "--cols / cols must be from 1 to 1000", "mcp"),
    ).toBe("cols must be from 1 to 1000");
    expect(surfaceWording(OPERATIONS.runInVm, "--mem-mib / mem_mib must be whole", "cli")).toBe(
      "--mem-mib must be whole",
    );
    expect(
      surfaceWording(OPERATIONS.startService, "--ready-file / readiness.path is empty", "sdk"),
    ).toBe("readiness.path is empty");
    // A pyro command becomes the tool call that does the same (hint-wording.ts).
    expect(surfaceWording(exportOp, "try `pyro run debian:12 -- git --version`", "mcp")).toBe(
      'try `vm_run {"environment":"debian:12","command":"git --version"}`',
    );
  });
});
