import type { AgentConnection } from "../../protocol/client.js";
import { PyroError } from "../errors.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";

/** What a short guest helper script returned: its exit status and bounded output. */
export interface Captured {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
  /** The guest sent more than the limit; the command was killed and stdout cut at the limit. */
  overflowed: boolean;
}

/** Every helper script has a deadline of its own, so a hung guest cannot hold a call forever. */
export const HELPER_TIMEOUT_MS = 60_000;

/**
 * Run one helper command in the guest and keep at most `limit` bytes of its stdout (and the last
 * 4 KB of stderr): the guest decides how much it sends, the host decides how much it keeps.
 * Input, when given, goes to the command's stdin with the connection's backpressure.
 */
export async function captureInGuest(
  agent: AgentConnection,
  argv: string[],
  options: { limit: number; input?: Buffer; timeoutMs?: number },
): Promise<Captured> {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflowed = false;
  let stderr = "";
  const handle = agent.exec(
    {
      argv,
      cwd: WORKSPACE_GUEST_PATH,
      timeoutMs: options.timeoutMs ?? HELPER_TIMEOUT_MS,
      stdin: options.input !== undefined,
    },
    {
      onStdout: (chunk) => {
        if (overflowed) return;
        const room = options.limit - size;
        if (chunk.length > room) {
          chunks.push(Buffer.from(chunk.subarray(0, room)));
          size = options.limit;
          overflowed = true;
          handle.signal("KILL");
          return;
        }
        chunks.push(Buffer.from(chunk));
        size += chunk.length;
      },
      onStderr: (chunk) => {
        stderr = (stderr + chunk.toString("utf8")).slice(-4000);
      },
    },
  );
  if (options.input !== undefined) {
    await handle.writeStdinAsync(options.input);
    handle.endStdin();
  }
  const result = await handle.result;
  if (result.timedOut) {
    throw new PyroError(
      "GUEST_UNRESPONSIVE",
      "a file operation in the guest did not finish in time",
      {
        hint: "The guest is overloaded or stuck; retry, or reset the workspace.",
      },
    );
  }
  return { exitCode: result.exitCode, stdout: Buffer.concat(chunks), stderr, overflowed };
}
