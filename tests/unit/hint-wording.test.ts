import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { describe, expect, it } from "vitest";
import { WorkspaceManager } from "../../src/core/manager.js";
import { createServer } from "../../src/mcp/server.js";
import { OPERATIONS, OPERATION_LIST } from "../../src/operations/index.js";
import { surfaceWording } from "../../src/operations/invoke.js";
import { Pyro } from "../../src/index.js";
import { REPO_ROOT } from "../support/paths.js";

/** Every source file under src/. */
function sources(dir = path.join(REPO_ROOT, "src")): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : full.endsWith(".ts") ? [full] : [];
  });
}

/** The JS string literal starting at `start` (quote included), with `${...}` replaced by X. */
function literalAt(text: string, start: number): string | null {
  const quote = text[start];
  if (quote !== '"' && quote !== "'" && quote !== "`") return null;
  let out = "";
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "\\") {
      out += text[i + 1];
      i += 1;
    } else if (c === quote) return out;
    else if (quote === "`" && c === "$" && text[i + 1] === "{") {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (text[i] === "{") depth += 1;
        if (text[i] === "}") depth -= 1;
        i += 1;
      }
      i -= 1;
      out += "X";
    } else out += c;
  }
  return null;
}

/** Every hint text written in the source: `hint: "..."` and invalidArgument(message, "hint"). */
function writtenHints(): { file: string; text: string }[] {
  const found: { file: string; text: string }[] = [];
  for (const file of sources()) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/hint:\s*(?:\([^)]*\)\s*=>\s*)?/g)) {
      const literal = literalAt(text, (match.index ?? 0) + match[0].length);
      if (literal !== null) found.push({ file: path.relative(REPO_ROOT, file), text: literal });
    }
    // invalidArgument(message, hint): the hint is the second literal.
    for (const match of text.matchAll(/invalidArgument\(\s*/g)) {
      let at = (match.index ?? 0) + match[0].length;
      const first = literalAt(text, at);
      if (first === null) continue;
      at = text.indexOf(",", at + first.length + 1);
      while (at >= 0 && /[\s,]/.test(text[at] ?? "")) at += 1;
      const second = at >= 0 ? literalAt(text, at) : null;
      if (second !== null) found.push({ file: path.relative(REPO_ROOT, file), text: second });
    }
  }
  return found;
}

async function connect(): Promise<Client> {
  const server = createServer(new WorkspaceManager());
  const client = new Client({ name: "hints-test", version: "1.0.0" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

describe("hints in the terms of the surface that received the call", () => {
  const hints = writtenHints();

  it("finds the hints written in core (the walk is not empty)", () => {
    expect(hints.length).toBeGreaterThan(100);
    expect(hints.some((h) => h.text.includes("`pyro workspace reset X`"))).toBe(true);
  });

  it("no hint, worded for MCP, mentions a pyro command or a -- flag, under any operation", () => {
    const bad: string[] = [];
    for (const op of OPERATION_LIST.filter((o) => o.mcp)) {
      for (const hint of hints) {
        // The command inside a rendered call is the user's own text (`git --version`).
        const worded = surfaceWording(op, hint.text, "mcp").replace(/"command":"[^"]*"/g, "");
        // A pyro command (prose such as "the pyro state directory" is fine) or a CLI flag.
        if (
          /\bpyro (workspace|env|run|doctor|mcp|demo)\b/.test(worded) ||
          /(^|[\s`(])--[a-z]/.test(worded)
        )
          bad.push(`${hint.file} [${op.mcp?.tool}]: ${worded}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("commands become the tool call over MCP and the method call in the SDK", () => {
    const op = OPERATIONS.createSnapshot;
    const hint =
      "Delete it first (`pyro workspace snapshot delete ab12 checkpoint`) or pass `--overwrite`.";
    expect(surfaceWording(op, hint, "mcp")).toBe(
      'Delete it first (`snapshot_delete {"workspace_id":"ab12","snapshot_name":"checkpoint"}`) or pass `overwrite`.',
    );
    expect(surfaceWording(op, hint, "sdk")).toBe(
      'Delete it first (`deleteSnapshot("ab12", "checkpoint")`) or pass `overwrite`.',
    );
    expect(surfaceWording(op, hint, "cli")).toBe(hint);
    expect(surfaceWording(op, "Try `pyro workspace reset ID --snapshot NAME`.", "sdk")).toBe(
      'Try `resetWorkspace("ID", { snapshot: "NAME" })`.',
    );
    expect(
      surfaceWording(op, "Check with `pyro workspace exec ID -- ls -la /workspace`.", "mcp"),
    ).toBe('Check with `workspace_exec {"workspace_id":"ID","command":"ls -la /workspace"}`.');
    expect(surfaceWording(op, "Run `pyro env pull debian:12` first.", "mcp")).toBe(
      'Run `vm_pull_environment {"environment":"debian:12"}` first.',
    );
    // A command with no MCP tool is named as the host CLI command it is.
    expect(surfaceWording(op, "Run `pyro env prune` first.", "mcp")).toBe(
      "Run `env prune` with pyro's CLI on the host first.",
    );
  });

  it("a real error over MCP and the SDK names that surface's call", async () => {
    const client = await connect();
    const result = await client.callTool({
      name: "workspace_status",
      arguments: { workspace_id: "0123456789ab" },
    });
    await client.close();
    const text = JSON.stringify(result.content);
    expect(result.isError).toBe(true);
    expect(text).toContain("WORKSPACE_NOT_FOUND");
    expect(text).toContain("workspace_list");
    expect(text).not.toMatch(/pyro |--[a-z]/);
    await expect(new Pyro().statusWorkspace("0123456789ab")).rejects.toMatchObject({
      code: "WORKSPACE_NOT_FOUND",
      hint: expect.stringContaining("listWorkspaces()"),
    });
  });

  it("a bad readiness object says which shapes readiness takes", async () => {
    const client = await connect();
    const result = await client.callTool({
      name: "service_start",
      arguments: {
        workspace_id: "0123456789ab",
        service_name: "web",
        command: "true",
        readiness: { type: "port", port: 8080 },
      },
    });
    await client.close();
    const text = JSON.stringify(result.content);
    expect(result.isError).toBe(true);
    expect(text).toContain("INVALID_ARGUMENT");
    for (const shape of [
      '\\"type\\": \\"file\\", \\"path\\": string',
      '\\"type\\": \\"tcp\\", \\"address\\": string',
      '\\"type\\": \\"http\\"',
      '\\"type\\": \\"command\\"',
    ])
      expect(text).toContain(shape);
  });
});
