import net from "node:net";
import { PyroError } from "../../core/errors.js";

/**
 * A minimal QMP client: connect, negotiate capabilities, run commands one at a time. QEMU's QMP
 * socket serves one client at a time, so callers hold the workspace lock while connected.
 * Failures are typed: the socket closing or refusing is VM_CRASHED (the VM is gone), no answer by
 * the deadline is GUEST_UNRESPONSIVE (QEMU is stuck; the connection is dropped), and a command
 * QEMU refuses is DISK_ERROR (every command pyro sends works on the block layer).
 */
export class QmpClient {
  private buffer = "";
  private waiters: ((message: Record<string, unknown>) => void)[] = [];
  private closedError: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (data: string) => {
      this.buffer += data;
      if (this.buffer.length > 16 * 1024 * 1024) {
        this.fail(new PyroError("PROTOCOL_ERROR", "QMP sent an oversized message"));
        return;
      }
      let newline: number;
      while ((newline = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, newline).trim();
        this.buffer = this.buffer.slice(newline + 1);
        if (!line) continue;
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if ("event" in message) continue;
        this.waiters.shift()?.(message);
      }
    });
    socket.on("close", () => this.fail(new PyroError("VM_CRASHED", "QMP connection closed")));
    socket.on("error", (error) => this.fail(new PyroError("VM_CRASHED", `QMP: ${error.message}`)));
  }

  static async connect(socketPath: string, timeoutMs = 10_000): Promise<QmpClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once("connect", () => resolve(s));
      s.once("error", (error) =>
        reject(new PyroError("VM_CRASHED", `cannot reach QMP: ${error.message}`)),
      );
    });
    const client = new QmpClient(socket);
    await client.next(timeoutMs); // greeting
    await client.execute("qmp_capabilities", {}, timeoutMs);
    return client;
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    this.socket.destroy();
  }

  private next(timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      const timer = setTimeout(() => {
        const error = new PyroError(
          "GUEST_UNRESPONSIVE",
          `QEMU did not answer on its QMP socket within ${timeoutMs} ms`,
        );
        // A late answer would be taken for the next command's: this connection is done.
        this.fail(error);
        reject(error);
      }, timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        reject(this.closedError ?? new PyroError("VM_CRASHED", "QMP connection closed"));
      };
      this.waiters.push((message) => {
        clearTimeout(timer);
        this.socket.off("close", onClose);
        resolve(message);
      });
      this.socket.once("close", onClose);
    });
  }

  async execute(
    command: string,
    args: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<unknown> {
    const reply = this.next(timeoutMs);
    this.socket.write(`${JSON.stringify({ execute: command, arguments: args })}\n`);
    const message = await reply;
    if ("error" in message) {
      const error = message.error as { desc?: string };
      throw new PyroError(
        "DISK_ERROR",
        `QEMU refused ${command}: ${String(error.desc ?? "unknown error").slice(0, 500)}`,
      );
    }
    return message.return;
  }

  close(): void {
    this.socket.end();
  }
}
