import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import { CLI_COMMANDS, MCP_TOOLS, SDK_METHODS } from "../../src/contract.js";
import { WorkspaceManager } from "../../src/core/manager.js";
import { createServer } from "../../src/mcp/server.js";
import { Pyro } from "../../src/sdk/pyro.js";

function leafCommands(
  command: Command,
  prefix: string[] = [],
): { path: string[]; flags: string[] }[] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    if (sub.commands.length > 0) return leafCommands(sub, path);
    const flags = sub.options.map((option) => option.long).filter((f): f is string => !!f);
    return [{ path, flags }];
  });
}

const key = (c: { path: readonly string[] }) => c.path.join(" ");

describe("public contract", () => {
  it("contract: the CLI has exactly the contract's commands and flags", () => {
    const actual = leafCommands(buildProgram())
      .map((c) => ({ path: c.path, flags: [...c.flags].sort() }))
      .sort((a, b) => key(a).localeCompare(key(b)));
    const expected = CLI_COMMANDS.map((c) => ({
      path: [...c.path],
      flags: [...c.flags].sort(),
    })).sort((a, b) => key(a).localeCompare(key(b)));
    expect(actual).toEqual(expected);
  });

  it("contract: the SDK class has exactly the contract's methods", () => {
    const methods = Object.getOwnPropertyNames(Pyro.prototype).filter((m) => m !== "constructor");
    expect(methods.sort()).toEqual([...SDK_METHODS].sort());
  });

  it("contract: the MCP server lists exactly the contract's tools, each with a description and schema", async () => {
    const server = createServer(new WorkspaceManager());
    const client = new Client({ name: "contract-test", version: "1.0.0" });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...MCP_TOOLS].sort());
    for (const tool of tools) {
      expect(tool.description?.length ?? 0).toBeGreaterThan(20);
      expect(tool.inputSchema.type).toBe("object");
    }
    await client.close();
  });

  it("contract: every CLI command has a description and an example in its help", () => {
    for (const command of leafCommands(buildProgram())) {
      const found = command.path.reduce<Command | undefined>(
        (parent, name) => parent?.commands.find((c) => c.name() === name),
        buildProgram(),
      );
      expect(found?.description().length ?? 0, key(command)).toBeGreaterThan(10);
      let help = "";
      found?.configureOutput({ writeOut: (s) => (help += s) });
      found?.outputHelp();
      expect(help, key(command)).toMatch(/pyro /);
    }
  });
});
