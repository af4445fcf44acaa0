import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseJson, pyro } from "./cli.js";

/** Shared fixtures for guest-backed workspace tests. */
export const stateDir = (): string => {
  const dir = process.env.PYRO_STATE_DIR;
  if (!dir) throw new Error("PYRO_STATE_DIR is not set: the global test setup did not run");
  return dir;
};

export function seedDirectory(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "pyro-seed-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), content);
  }
  return root;
}

export interface Record_ {
  workspace_id: string;
  state: string;
  command_count: number;
  reset_count: number;
  last_error: string | null;
  workspace_seed: { mode: string; entry_count: number; bytes_written: number };
}

export async function createWorkspace(args: string[] = []): Promise<Record_> {
  const result = await pyro(["workspace", "create", "debian:12", "--json", ...args]);
  if (result.status !== 0)
    throw new Error(`create failed: ${result.stdout.slice(0, 3000)}${result.stderr}`);
  return parseJson<Record_>(result.stdout);
}

export async function wsExec(
  id: string,
  command: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return pyro(["workspace", "exec", id, "--", "sh", "-c", command]);
}
