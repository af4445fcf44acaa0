import type { Duplex } from "node:stream";
import { PyroError } from "../core/errors.js";
import { encodeFrame, FrameDecoder, ProtocolError, type Frame } from "./frame.js";
import {
  AGENT_VERSION,
  MAX_CHUNK_BYTES,
  MESSAGE_TYPES as T,
  PROTOCOL_VERSION,
  TIMEOUT_EXIT_CODE,
  type SignalName,
} from "./messages.js";

/** What the host asks the agent to run. */
export interface ExecRequest {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  stdin?: boolean;
  /** Run on a PTY of cols x rows (default 120 x 30); stdin is then always connected. */
  pty?: boolean;
  cols?: number;
  rows?: number;
}

/** The `exec` frame header for a request (docs/protocol.md), shared by every host-side caller. */
export function execHeader(request: ExecRequest): Record<string, unknown> {
  return {
    type: T.EXEC,
    argv: request.argv,
    env: request.env ?? {},
    cwd: request.cwd ?? "/",
    timeout_ms: request.timeoutMs ?? 0,
    stdin: request.stdin ?? false,
    ...(request.pty ? { pty: true, cols: request.cols ?? 120, rows: request.rows ?? 30 } : {}),
  };
}

export interface ExecResult {
  exitCode: number;
  signal: string | null;
  timedOut: boolean;
  /** Duration measured by the agent inside the guest. */
  guestDurationMs: number;
}

export interface ExecHandlers {
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface ExecHandle {
  result: Promise<ExecResult>;
  writeStdin(data: Buffer): void;
  /** Like writeStdin, but resolves once the connection can take more (backpressure). */
  writeStdinAsync(data: Buffer): Promise<void>;
  endStdin(): void;
  signal(name: SignalName): void;
}

export interface AgentHello {
  protocol: number;
  agentVersion: string;
  capabilities: string[];
}

const HELLO_RESEND_MS = 500;

interface PendingChannel {
  onFrame(frame: Frame): void;
  onClose(error: Error): void;
}

/**
 * The host end of one agent connection: a handshake, then any number of concurrent requests,
 * each on its own channel. Every frame from the guest is validated; a frame that breaks the
 * protocol ends the connection with a typed error instead of being trusted.
 */
export class AgentConnection {
  private readonly decoder = new FrameDecoder();
  private readonly channels = new Map<number, PendingChannel>();
  private nextChannel = 1;
  private closedWith: Error | undefined;
  private readonly closeListeners: ((error: Error) => void)[] = [];

  private constructor(private readonly stream: Duplex) {
    stream.on("data", (data: Buffer) => this.onData(data));
    stream.on("error", (error) => this.fail(new PyroError("VM_CRASHED", error.message)));
    stream.on("close", () =>
      this.fail(
        new PyroError("VM_CRASHED", "the guest agent connection closed", {
          hint: "The VM stopped or crashed; check the guest log.",
        }),
      ),
    );
  }

  /** Send our hello, wait for the agent's, then use the stream for requests. */
  static async open(stream: Duplex, timeoutMs: number): Promise<[AgentConnection, AgentHello]> {
    const hello = await greet(stream, timeoutMs);
    return [AgentConnection.attach(stream), hello];
  }

  /** Wrap a stream whose handshake is already done (see `greet`). */
  static attach(stream: Duplex): AgentConnection {
    return new AgentConnection(stream);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  onClose(listener: (error: Error) => void): void {
    this.closeListeners.push(listener);
  }

  exec(request: ExecRequest, handlers: ExecHandlers = {}): ExecHandle {
    const channel = this.allocateChannel();
    const result = new Promise<ExecResult>((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith);
      this.channels.set(channel, {
        onFrame: (frame) => {
          const h = frame.header;
          switch (h.type) {
            case T.STARTED:
              return;
            case T.STDOUT:
              handlers.onStdout?.(frame.payload);
              return;
            case T.STDERR:
              handlers.onStderr?.(frame.payload);
              return;
            case T.EXIT: {
              const exit = parseExit(h); // throws on a lying frame, failing this channel too
              this.channels.delete(channel);
              resolve(exit);
              return;
            }
            case T.ERROR:
              this.channels.delete(channel);
              reject(guestError(h));
              return;
            default:
              this.fail(new ProtocolError(`unexpected ${h.type} frame on an exec channel`));
          }
        },
        onClose: reject,
      });
    });
    this.send(channel, execHeader(request));
    return {
      result,
      writeStdin: (data) => {
        for (let offset = 0; offset < data.length; offset += MAX_CHUNK_BYTES) {
          this.send(channel, { type: T.STDIN }, data.subarray(offset, offset + MAX_CHUNK_BYTES));
        }
      },
      writeStdinAsync: async (data) => {
        for (let offset = 0; offset < data.length; offset += MAX_CHUNK_BYTES) {
          this.send(channel, { type: T.STDIN }, data.subarray(offset, offset + MAX_CHUNK_BYTES));
          if (this.stream.writableNeedDrain && !this.closedWith) {
            await new Promise<void>((resolve) => {
              const done = () => {
                this.stream.off("drain", done);
                this.stream.off("close", done);
                resolve();
              };
              this.stream.on("drain", done);
              this.stream.on("close", done);
            });
          }
        }
      },
      endStdin: () => this.send(channel, { type: T.STDIN_EOF }),
      signal: (name) => this.send(channel, { type: T.SIGNAL, signal: name }),
    };
  }

  /** Ask the agent to sync and power the VM off. */
  shutdown(): void {
    this.send(0, { type: T.SHUTDOWN });
  }

  close(): void {
    this.stream.destroy();
  }

  private allocateChannel(): number {
    const channel = this.nextChannel;
    this.nextChannel = this.nextChannel >= 0xfffffff0 ? 1 : this.nextChannel + 1;
    return channel;
  }

  private send(channel: number, header: Record<string, unknown>, payload?: Buffer): void {
    if (this.closedWith) return;
    this.stream.write(encodeFrame(channel, header, payload));
  }

  private onData(data: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(data);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    for (const frame of frames) {
      if (this.closedWith) return;
      try {
        this.dispatch(frame);
      } catch (error) {
        this.fail(error as Error);
      }
    }
  }

  private dispatch(frame: Frame): void {
    if (frame.channel === 0) {
      // Late answers to a repeated hello, and pongs, need nothing.
      if (frame.header.type === T.PONG || frame.header.type === T.HELLO) return;
      this.fail(new ProtocolError(`unexpected ${frame.header.type} frame on the control channel`));
      return;
    }
    const pending = this.channels.get(frame.channel);
    if (!pending) {
      this.fail(new ProtocolError(`frame on unknown channel ${frame.channel}`));
      return;
    }
    pending.onFrame(frame);
  }

  private fail(error: Error): void {
    if (this.closedWith) return;
    const typed =
      error instanceof ProtocolError
        ? new PyroError("PROTOCOL_ERROR", `guest agent broke the protocol: ${error.message}`, {
            hint: "The guest sent data the host refuses to trust; reset or recreate the VM.",
          })
        : error;
    this.closedWith = typed;
    for (const pending of this.channels.values()) pending.onClose(typed);
    this.channels.clear();
    for (const listener of this.closeListeners) listener(typed);
    this.stream.destroy();
  }
}

/**
 * The handshake: the host speaks first (virtio-serial drops what the guest writes while no host
 * is connected), the agent answers with its protocol and version. Resolves with the agent's hello
 * and leaves the stream with no listeners of its own.
 */
export function greet(stream: Duplex, timeoutMs: number): Promise<AgentHello> {
  return new Promise<AgentHello>((resolve, reject) => {
    const decoder = new FrameDecoder();
    const finish = (error: Error | undefined, hello?: AgentHello) => {
      clearTimeout(timer);
      clearInterval(resend);
      stream.off("data", onData);
      stream.off("close", onClose);
      stream.off("error", onClose);
      if (error) reject(error);
      else resolve(hello as AgentHello);
    };
    const timer = setTimeout(
      () =>
        finish(
          new PyroError("VM_BOOT_TIMEOUT", `guest agent did not answer within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    const onClose = () =>
      finish(new PyroError("VM_CRASHED", "the agent connection closed during the handshake"));
    const onData = (data: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(data);
      } catch (error) {
        return finish(
          new PyroError(
            "PROTOCOL_ERROR",
            `guest agent broke the protocol: ${(error as Error).message}`,
          ),
        );
      }
      const frame = frames[0];
      if (!frame) return;
      const h = frame.header;
      if (frame.channel !== 0 || (h.type !== T.HELLO && h.type !== T.ERROR)) {
        return finish(
          new PyroError("PROTOCOL_ERROR", `guest agent sent ${h.type} before its hello`),
        );
      }
      if (h.type === T.ERROR || h.protocol !== PROTOCOL_VERSION) {
        return finish(
          new PyroError(
            "PROTOCOL_ERROR",
            `guest agent speaks protocol ${String(h.protocol)}, host speaks ${PROTOCOL_VERSION}`,
            { hint: "Rebuild the agent with `make build` so host and guest match." },
          ),
        );
      }
      finish(undefined, {
        protocol: PROTOCOL_VERSION,
        agentVersion:
          typeof h.agent_version === "string" ? h.agent_version.slice(0, 64) : "unknown",
        capabilities: Array.isArray(h.capabilities)
          ? h.capabilities.filter((c): c is string => typeof c === "string").slice(0, 64)
          : [],
      });
    };
    stream.on("data", onData);
    stream.once("close", onClose);
    stream.once("error", onClose);
    // The guest kernel discards what reached the port before the agent opened it, so a hello
    // sent while the guest boots can be lost: repeat it until the agent answers. The agent
    // answers every hello; the extra answers are ignored on the control channel.
    const hello = encodeFrame(0, {
      type: T.HELLO,
      protocol: PROTOCOL_VERSION,
      host_version: AGENT_VERSION,
    });
    const resend = setInterval(() => stream.write(hello), HELLO_RESEND_MS);
    stream.write(hello);
  });
}

function parseExit(header: Frame["header"]): ExecResult {
  const exitCode = header.exit_code;
  if (
    typeof exitCode !== "number" ||
    !Number.isInteger(exitCode) ||
    exitCode < 0 ||
    exitCode > 255
  ) {
    throw new ProtocolError("exit frame without a valid exit_code");
  }
  const timedOut = header.timed_out === true;
  return {
    exitCode: timedOut ? TIMEOUT_EXIT_CODE : exitCode,
    signal: typeof header.signal === "string" ? header.signal : null,
    timedOut,
    guestDurationMs: typeof header.duration_ms === "number" ? header.duration_ms : 0,
  };
}

/** The typed error for an agent's `error` frame on an exec channel (bounded, never trusted). */
export function guestError(
  header: Frame["header"],
  cwdHint = "Pass a working directory that exists in the guest.",
): PyroError {
  const code = typeof header.code === "string" ? header.code.slice(0, 64) : "UNKNOWN";
  const message = typeof header.message === "string" ? header.message.slice(0, 2000) : "";
  const hint = code === "BAD_CWD" ? cwdHint : "Check the command and its arguments.";
  return new PyroError("GUEST_ERROR", `guest agent refused the request (${code}): ${message}`, {
    hint,
    details: { guest_code: code },
  });
}
