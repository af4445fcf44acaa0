import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { buildProgram } from "../../src/cli/program.js";
import { WorkspaceManager } from "../../src/core/manager.js";
import { createServer } from "../../src/mcp/server.js";
import { OPERATION_LIST, OPERATIONS } from "../../src/operations/index.js";
import { Pyro } from "../../src/sdk/pyro.js";
import { REPO_ROOT } from "../support/paths.js";

/**
 * The surfaces held to the operation declarations (src/operations): a surface that lacks an
 * operation, a flag, a field or an annotation the declarations list fails here, and so does a
 * docs/public-contract.md that does not name them.
 */
function leafCommands(
  command: Command,
  prefix: string[] = [],
): { path: string[]; command: Command }[] {
  return command.commands.flatMap((sub) => {
    const p = [...prefix, sub.name()];
    return sub.commands.length > 0 ? leafCommands(sub, p) : [{ path: p, command: sub }];
  });
}

const kebab = (field: string) => `--${field.replace(/_/g, "-")}`;
/** Commands that are not manager operations and keep a small handler of their own. */
const CUSTOM_COMMANDS = ["mcp serve", "demo"];

function expectedFlags(op: (typeof OPERATION_LIST)[number]): string[] {
  const cli = op.cli;
  if (!cli) return [];
  const shape = op.input.shape as Record<string, z.ZodTypeAny>;
  // Fields the CLI fills only through extra flags (e.g. password from --password-stdin).
  const folded = new Set<string>((cli.extra?.options ?? []).map((o) => o.field));
  const flags = Object.keys(shape)
    .filter((f) => !cli.args?.includes(f) && cli.tail !== f && !folded.has(f))
    .map((f) => (cli.flags as Record<string, string> | undefined)?.[f] ?? kebab(f));
  const extra = (cli.extra?.options ?? []).map((o) => o.flag.split(" ")[0] as string);
  return [...flags, ...extra, "--json"].sort();
}

async function connectedClient(): Promise<Client> {
  const server = createServer(new WorkspaceManager());
  const client = new Client({ name: "contract-test", version: "1.0.0" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

describe("public contract", () => {
  it("contract: the CLI has a command per declared operation, with exactly its flags and arguments", () => {
    const leaves = leafCommands(buildProgram());
    const byPath = new Map(leaves.map((l) => [l.path.join(" "), l.command]));
    const declared = OPERATION_LIST.filter((op) => op.cli);
    for (const op of declared) {
      const command = byPath.get(op.cli!.path.join(" "));
      expect(command, op.sdk).toBeDefined();
      const flags = command!.options
        .map((o) => o.long)
        .filter((f): f is string => !!f)
        .sort();
      expect(flags, op.sdk).toEqual(expectedFlags(op));
      const args = command!.registeredArguments.map((a) => a.name());
      expect(args, op.sdk).toEqual([
        ...(op.cli!.args ?? []).map((a) => a.replace(/_/g, "-")),
        ...(op.cli!.tail ? [op.cli!.tail] : []),
      ]);
    }
    const extra = [...byPath.keys()].filter(
      (p) => !declared.some((op) => op.cli!.path.join(" ") === p) && !CUSTOM_COMMANDS.includes(p),
    );
    expect(extra).toEqual([]);
  });

  it("contract: the SDK class has a method per declared operation, plus createServer", () => {
    const methods = Object.getOwnPropertyNames(Pyro.prototype).filter((m) => m !== "constructor");
    expect(methods.sort()).toEqual([...Object.keys(OPERATIONS), "createServer"].sort());
  });

  it("contract: every MCP tool has its title, description, strict inputSchema, outputSchema and annotations", async () => {
    const client = await connectedClient();
    const { tools } = await client.listTools();
    const declared = OPERATION_LIST.filter((op) => op.mcp);
    expect(tools.map((t) => t.name).sort()).toEqual(declared.map((op) => op.mcp!.tool).sort());
    for (const op of declared) {
      const tool = tools.find((t) => t.name === op.mcp!.tool)!;
      expect(tool.title, tool.name).toBe(op.mcp!.title);
      expect(tool.description, tool.name).toBe(op.description);
      expect(tool.inputSchema.type).toBe("object");
      expect(
        (tool.inputSchema as { additionalProperties?: unknown }).additionalProperties,
        tool.name,
      ).toBe(false);
      expect(Object.keys(tool.inputSchema.properties ?? {}).sort(), tool.name).toEqual(
        Object.keys(op.input.shape).sort(),
      );
      const required = Object.entries(op.input.shape as Record<string, z.ZodTypeAny>)
        .filter(([, s]) => !s.isOptional())
        .map(([k]) => k)
        .sort();
      expect([...(tool.inputSchema.required ?? [])].sort(), tool.name).toEqual(required);
      expect(tool.outputSchema?.type, tool.name).toBe("object");
      expect(
        (tool.outputSchema as { additionalProperties?: unknown }).additionalProperties,
        tool.name,
      ).toBe(false);
      expect(tool.annotations, tool.name).toMatchObject({ title: op.mcp!.title, ...op.hints });
    }
    await client.close();
  });

  it("contract: every MCP tool rejects an unknown argument with INVALID_ARGUMENT naming it", async () => {
    const client = await connectedClient();
    for (const op of OPERATION_LIST.filter((o) => o.mcp)) {
      const result = await client.callTool({ name: op.mcp!.tool, arguments: { bogus_flag: 1 } });
      expect(result.isError, op.mcp!.tool).toBe(true);
      const text = JSON.stringify(result.content);
      expect(text, op.mcp!.tool).toContain("INVALID_ARGUMENT");
      expect(text, op.mcp!.tool).toContain("bogus_flag");
    }
    await client.close();
  });

  it("contract: the same bad input is INVALID_ARGUMENT on MCP and the SDK, named in each surface's terms", async () => {
    const client = await connectedClient();
    await client.listTools(); // the client now checks results against each outputSchema
    const mcp = await client.callTool({
      name: "workspace_create",
      arguments: { environment: "debian:12", mem_mib: 10 },
    });
    expect(mcp.isError).toBe(true);
    const content = mcp.content as { text: string }[];
    expect(content[0]?.text).toMatch(/^INVALID_ARGUMENT: mem_mib /);
    expect(JSON.parse(content[1]?.text ?? "{}").error).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: "mem_mib must be a whole number from 256 to 32768, got 10",
    });
    await client.close();
    const pyro = new Pyro();
    await expect(
      pyro.createWorkspace({ environment: "debian:12", memMib: 10 }),
    ).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: "memMib must be a whole number from 256 to 32768, got 10",
    });
    // Unknown SDK options, and snake_case spellings of known ones, are refused by name.
    const untyped = pyro as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await expect(untyped.listWorkspaces!({ bogus: true })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: 'unknown argument "bogus"',
    });
    await expect(
      untyped.createWorkspace!({ environment: "debian:12", mem_mib: 512 }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: 'unknown argument "mem_mib"' });
  });

  it("contract: every CLI command has a description and an example in its help", () => {
    for (const { path: p, command } of leafCommands(buildProgram())) {
      expect(command.description().length, p.join(" ")).toBeGreaterThan(10);
      let help = "";
      command.configureOutput({ writeOut: (s) => (help += s) });
      command.outputHelp();
      expect(help, p.join(" ")).toMatch(/pyro /);
    }
  });

  it("contract: docs/public-contract.md names every operation with its CLI path, flags, SDK method and MCP tool", () => {
    const doc = readFileSync(path.join(REPO_ROOT, "docs", "public-contract.md"), "utf8");
    const rows = doc.split("\n").filter((line) => line.startsWith("|"));
    for (const op of OPERATION_LIST) {
      const row = rows.find((r) => r.includes(`\`${op.sdk}(`));
      expect(row, `${op.sdk} has no row in docs/public-contract.md`).toBeDefined();
      if (op.mcp) expect(row, op.sdk).toContain(`\`${op.mcp.tool}\``);
      if (op.cli) {
        expect(row, op.sdk).toContain(`\`pyro ${op.cli.path.join(" ")}`);
        for (const flag of expectedFlags(op))
          expect(row, `${op.sdk} ${flag}`).toMatch(new RegExp(`${flag}(?![a-z-])`));
      }
    }
  });
});
