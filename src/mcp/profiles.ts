import type { z } from "zod";
import { MCP_PROFILES, type McpProfile, type Operation } from "../operations/define.js";
import { invalidArgument } from "../core/errors.js";

/**
 * Which tools a profile serves and with which schema. Membership is declared on each operation
 * (`mcp.profiles`, `mcp.hidden`); this only reads it. A hidden field is dropped from the tool's
 * strict input schema, so a client of that profile neither sees it nor can pass it.
 */
export function inProfile(op: Operation, profile: McpProfile): boolean {
  if (!op.mcp) return false;
  return profile === "workspace-full" || (op.mcp.profiles ?? []).includes(profile);
}

export function forProfile(op: Operation, profile: McpProfile): Operation {
  const hidden = op.mcp?.hidden?.[profile] ?? [];
  if (hidden.length === 0) return op;
  const mask = Object.fromEntries(hidden.map((field) => [field, true])) as Record<string, true>;
  return { ...op, input: op.input.omit(mask) as z.ZodObject<z.ZodRawShape, "strict"> };
}

export function checkProfile(value: string): McpProfile {
  if ((MCP_PROFILES as readonly string[]).includes(value)) return value as McpProfile;
  throw invalidArgument(
    `unknown MCP profile "${value}"`,
    `Pick one of ${MCP_PROFILES.join(", ")} (default workspace-full).`,
  );
}

const LOOP = `Work in a loop: workspace_create (seed_path = the project) -> workspace_exec to run the tests -> edit with workspace_file_read / workspace_file_write / workspace_patch_apply -> workspace_diff to review (exclude noise such as __pycache__) -> workspace_export what you want to keep -> workspace_delete when done.`;
const RESET = `When the sandbox gets into a bad state, do not repair it: workspace_reset rebuilds it from the baseline (or a snapshot) in seconds.`;

/** The server's `instructions`: how to use this profile's tools, sent once at initialize. */
export function instructions(profile: McpProfile): string {
  if (profile === "vm-run") {
    return "pyro runs commands in disposable Linux microVMs. vm_run boots a fresh guest (environment debian:12), runs one shell command, returns stdout, stderr and the exit code, and deletes the VM. Nothing persists between calls; install and run in the same command.";
  }
  const core = `pyro gives you disposable Linux workspaces: each is a microVM with the project in /workspace and an immutable baseline of it. ${LOOP} ${RESET} workspace_summary tells you where a workspace stands (changes, recent commands) when you come back to it. Paths are relative to /workspace.`;
  if (profile === "workspace-core") return core;
  return `${core} Before a risky change take snapshot_create and reset to it with workspace_reset (snapshot) if it goes wrong; workspace_diff can compare against a snapshot too. Long-lived processes go in service_start; interactive programs in shell_open. vm_run is the one-shot alternative when nothing needs to persist.`;
}
