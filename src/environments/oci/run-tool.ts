import { spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { PyroError } from "../../core/errors.js";

/** Run a host tool; lines go to `onLine`, the tail is kept for the error a failure raises. */
export function runTool(
  command: string,
  args: string[],
  options: {
    onLine?: (line: string) => void;
    fail: (tail: string) => PyroError;
    signal?: AbortSignal;
  },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        options.onLine?.(line);
      });
    }
    child.once("error", (error) =>
      reject(
        error.name === "AbortError"
          ? new PyroError("CANCELLED", `${path.basename(command)} was cancelled`)
          : error,
      ),
    );
    child.once("close", (code) => {
      if (code === 0) resolve();
      else reject(options.fail(tail.join("\n")));
    });
  });
}
