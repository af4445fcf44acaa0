import { toPlainText } from "../../src/core/workspace/plain-text.js";
import { parseJson, pyro, type CliResult } from "./cli.js";

/** Helpers for the shell and service tests: JSON calls through the real CLI. */
export async function cliJson<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const result = await pyro([...args, "--json"]);
  if (result.status !== 0) {
    throw new Error(
      `pyro ${args.join(" ")} failed (${result.status}): ${result.stdout}${result.stderr}`,
    );
  }
  return parseJson<T>(result.stdout);
}

export function errorCode(result: CliResult): string | undefined {
  try {
    return parseJson<{ error?: { code?: string } }>(result.stdout).error?.code;
  } catch {
    return undefined;
  }
}

export interface ShellRead {
  output: string;
  cursor: number;
  next_cursor: number;
  end_cursor: number;
  truncated: boolean;
  truncated_chars: number;
  state: "running" | "stopped";
  exit_code: number | null;
}

/** Read a shell from `cursor` until its screen text matches `pattern`; returns the raw text read. */
export async function readUntil(
  workspaceId: string,
  shellId: string,
  pattern: RegExp,
  options: { cursor?: number; timeoutMs?: number } = {},
): Promise<{ raw: string; next: number; last: ShellRead }> {
  let cursor = options.cursor ?? 0;
  let raw = "";
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const read = await cliJson<ShellRead>([
      "workspace",
      "shell",
      "read",
      workspaceId,
      shellId,
      "--cursor",
      String(cursor),
      "--wait-for-idle-ms",
      "150",
    ]);
    raw += read.output;
    cursor = read.next_cursor;
    if (pattern.test(toPlainText(raw))) return { raw, next: cursor, last: read };
    if (
      Date.now() > deadline ||
      (read.state === "stopped" && read.next_cursor === read.end_cursor)
    ) {
      throw new Error(
        `shell output never matched ${pattern}; got:\n${toPlainText(raw).slice(-2000)}`,
      );
    }
  }
}
