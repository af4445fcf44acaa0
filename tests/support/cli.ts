import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { CLI } from "./paths.js";

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the built `pyro` CLI as a user would, in a child process. */
export function pyro(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  return command(process.execPath, [CLI, ...args], options);
}

/**
 * Run any program without blocking the test worker (a synchronous child that runs for a minute
 * starves vitest's own messages and fails the run with "Timeout calling onTaskUpdate").
 */
export function command(
  file: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

export function parseJson<T = Record<string, unknown>>(text: string): T {
  return JSON.parse(text) as T;
}

/** QEMU processes whose command line mentions `needle` (a state directory, usually). */
export function qemuProcesses(needle: string): string[] {
  let out = "";
  try {
    out = execFileSync("pgrep", ["-af", "qemu-system"], { encoding: "utf8" });
  } catch {
    return [];
  }
  return out.split("\n").filter((line) => line.includes(needle) && !line.includes("pgrep"));
}
