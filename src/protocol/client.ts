import type { Duplex } from "node:stream";
import { PyroError } from "../core/errors.js";
import { CallDeadline } from "./deadline.js";
import { CreditGranter } from "./flow.js";
import { encodeFrame, FrameDecoder, ProtocolError, type Frame } from "./frame.js";
import {
  AGENT_VERSION,
  DEFAULT_WINDOW_BYTES,
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
    // No cwd: the agent uses the image's WorkingDir (environments pulled from OCI images) or "/".
    ...(request.cwd !== undefined ? { cwd: request.cwd } : {}),
    timeout_ms: request.timeoutMs ?? 0,
    stdin: request.stdin ?? false,
    window: DEFAULT_WINDOW_BYTES,
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
  /**
   * Output handlers, `(chunk) => void | Promise<void>` in spirit. A returned promise holds the
   * guest back: the connection grants the guest more output (flow control) only once it
   * resolves, so a slow consumer means a blocked guest process, never a growing host buffer.
   * Typed `unknown` so that handlers written as expressions (`(c) => (s += c)`) still fit.
   */
  onStdout?: (chunk: Buffer) => unknown;
  onStderr?: (chunk: Buffer) => unknown;
}

export interface ExecCallOptions {
  /**
   * Host-side deadline for the call's answer, in ms; `null` for none (long-lived processes the
   * caller watches itself). Default: the request's timeout plus the connection's grace, or the
   * connection's default deadline when the request has no timeout.
   */
  deadlineMs?: number | null;
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

export interface AgentConnectionOptions {
  /** Added to a request's own timeout to get its host-side deadline. */
  graceMs?: number;
  /** Host-side deadline for requests without a timeout. */
  defaultDeadlineMs?: number;
  /** The workspace behind this connection, named in the hint of GUEST_UNRESPONSIVE. */
  workspaceId?: string;
}

/** Grace a guest gets past its own timeout before the host gives up on it. */
export const HOST_GRACE_MS = 10_000;
/** Host-side deadline of a guest call that has no timeout of its own. */
export const DEFAULT_CALL_DEADLINE_MS = 10 * 60_000;

const HELLO_RESEND_MS = 500;

interface PendingChannel {
  onFrame(frame: Frame): void;
  onClose(error: Error): void;
}

/** Bytes and frames that followed the agent's hello, kept by `greet` for whoever reads next. */
interface HandshakeRest {
  decoder: FrameDecoder;
  frames: Frame[];
}
const handshakeRests = new WeakMap<Duplex, HandshakeRest>();

/**
 * Take over a stream after `greet`: the decoder still holding any partial frame that came after
 * the hello reply, and the whole frames that did. The stream was paused at the handshake so no
 * byte is lost in between; the caller resumes it once its own listener is in place.
 */
export function takeHandshakeRest(stream: Duplex): HandshakeRest {
  const rest = handshakeRests.get(stream) ?? { decoder: new FrameDecoder(), frames: [] };
  handshakeRests.delete(stream);
  return rest;
}

/**
 * The host end of one agent connection: a handshake, then any number of concurrent requests,
 * each on its own channel. Every frame from the guest is validated; a frame that breaks the
 * protocol ends the connection with a typed error instead of being trusted. Every request has a
 * host-side deadline, and every channel's output is flow-controlled.
 */
export class AgentConnection {
  private readonly decoder: FrameDecoder;
  private readonly channels = new Map<number, PendingChannel>();
  private nextChannel = 1;
  private closedWith: Error | undefined;
  private readonly closeListeners: ((error: Error) => void)[] = [];
  private readonly graceMs: number;
  private readonly defaultDeadlineMs: number;

  private constructor(
    private readonly stream: Duplex,
    private readonly options: AgentConnectionOptions,
  ) {
    this.graceMs = options.graceMs ?? HOST_GRACE_MS;
    this.defaultDeadlineMs = options.defaultDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS;
    const rest = takeHandshakeRest(stream);
    this.decoder = rest.decoder;
    stream.on("data", (data: Buffer) => this.onData(data));
    stream.on("error", (error) => this.fail(new PyroError("VM_CRASHED", error.message)));
    stream.on("close", () =>
      this.fail(
        new PyroError("VM_CRASHED", "the guest agent connection closed", {
          hint: "The VM stopped or crashed; check the guest log.",
        }),
      ),
    );
    for (const frame of rest.frames) this.dispatchSafely(frame);
    stream.resume();
  }

  /** Send our hello, wait for the agent's, then use the stream for requests. */
  static async open(
    stream: Duplex,
    timeoutMs: number,
    options: AgentConnectionOptions = {},
  ): Promise<[AgentConnection, AgentHello]> {
    const hello = await greet(stream, timeoutMs);
    return [AgentConnection.attach(stream, options), hello];
  }

  /** Wrap a stream whose handshake is already done (see `greet`). */
  static attach(stream: Duplex, options: AgentConnectionOptions = {}): AgentConnection {
    return new AgentConnection(stream, options);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  onClose(listener: (error: Error) => void): void {
    this.closeListeners.push(listener);
  }

  exec(
    request: ExecRequest,
    handlers: ExecHandlers = {},
    options: ExecCallOptions = {},
  ): ExecHandle {
    const channel = this.allocateChannel();
    const credit = new CreditGranter((bytes) => {
      if (this.channels.has(channel)) this.send(channel, { type: T.CREDIT, bytes });
    });
    // Output is handed to the handlers one chunk at a time, in order; `exit` waits behind it.
    let queue = Promise.resolve();
    let queued = 0;
    let settled = false;
    let resolveResult!: (exit: ExecResult) => void;
    let rejectResult!: (error: Error) => void;
    const result = new Promise<ExecResult>((resolve, reject) => {
      resolveResult = resolve;
      rejectResult = reject;
    });
    const settle = (outcome: { exit: ExecResult } | { error: Error }) => {
      if (settled) return;
      settled = true;
      deadline.stop();
      if ("error" in outcome) rejectResult(outcome.error);
      else resolveResult(outcome.exit);
    };
    const afterOutput = (step: () => void) => {
      queue = queue.then(step);
    };
    const deliver = (chunk: Buffer, handler: ExecHandlers["onStdout"]) => {
      credit.limit.spend(chunk.length); // a guest past its credit breaks the protocol
      queued += 1;
      queue = queue
        .then(async () => {
          if (settled) return;
          await handler?.(chunk);
          credit.consumed(chunk.length);
        })
        .catch((error: unknown) => {
          // The consumer failed (e.g. its output closed): stop the command, report the failure.
          this.send(channel, { type: T.SIGNAL, signal: "KILL" });
          settle({ error: error instanceof Error ? error : new Error(String(error)) });
        })
        .finally(() => {
          queued -= 1;
          if (queued === 0) deadline.consumerIdle();
        });
    };
    const deadlineMs =
      options.deadlineMs !== undefined
        ? options.deadlineMs
        : request.timeoutMs
          ? request.timeoutMs + this.graceMs
          : this.defaultDeadlineMs;
    const deadline = new CallDeadline(
      deadlineMs,
      this.graceMs,
      () => queued > 0,
      () => {
        // The guest stopped answering. Ask it to kill the process anyway; frames that still come
        // on this channel are dropped until its last one.
        this.send(channel, { type: T.SIGNAL, signal: "KILL" });
        settle({ error: this.unresponsive(deadlineMs ?? 0) });
      },
    );

    if (this.closedWith) {
      settle({ error: this.closedWith });
      return this.handle(channel, result);
    }
    this.channels.set(channel, {
      onFrame: (frame) => {
        const h = frame.header;
        switch (h.type) {
          case T.STARTED:
            return;
          case T.STDOUT:
            return deliver(frame.payload, handlers.onStdout);
          case T.STDERR:
            return deliver(frame.payload, handlers.onStderr);
          case T.EXIT: {
            const exit = parseExit(h); // throws on a lying frame, failing this channel too
            this.channels.delete(channel);
            return afterOutput(() => settle({ exit }));
          }
          case T.ERROR: {
            this.channels.delete(channel);
            const error = guestError(h);
            return afterOutput(() => settle({ error }));
          }
          default:
            this.fail(new ProtocolError(`unexpected ${h.type} frame on an exec channel`));
        }
      },
      onClose: (error) => settle({ error }),
    });
    this.send(channel, execHeader(request));
    return this.handle(channel, result);
  }

  /** Ask the agent to sync and power the VM off. */
  shutdown(): void {
    this.send(0, { type: T.SHUTDOWN });
  }

  close(): void {
    this.stream.destroy();
  }

  private handle(channel: number, result: Promise<ExecResult>): ExecHandle {
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

  private unresponsive(deadlineMs: number): PyroError {
    const id = this.options.workspaceId;
    return new PyroError(
      "GUEST_UNRESPONSIVE",
      `the guest did not answer within ${Math.round(deadlineMs / 1000)} s (the call's timeout plus ${Math.round(this.graceMs / 1000)} s)`,
      {
        hint: id
          ? `The guest is stuck (a fork bomb or memory exhaustion, say); run \`pyro workspace reset ${id}\`.`
          : "The guest is stuck (a fork bomb or memory exhaustion, say); the VM was stopped, run the command again.",
      },
    );
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
    for (const frame of frames) this.dispatchSafely(frame);
  }

  private dispatchSafely(frame: Frame): void {
    if (this.closedWith) return;
    try {
      this.dispatch(frame);
    } catch (error) {
      this.fail(error as Error);
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
 * and leaves the stream paused, with no listeners of its own; whatever came after the hello is
 * kept for `takeHandshakeRest`, so the next reader starts exactly where the handshake stopped.
 */
export function greet(
  stream: Duplex,
  timeoutMs: number,
  options: { skipChannelFrames?: boolean } = {},
): Promise<AgentHello> {
  return new Promise<AgentHello>((resolve, reject) => {
    const decoder = new FrameDecoder();
    const finish = (error: Error | undefined, hello?: AgentHello, rest: Frame[] = []) => {
      clearTimeout(timer);
      clearInterval(resend);
      stream.off("data", onData);
      stream.off("close", onClose);
      stream.off("error", onClose);
      if (error) return reject(error);
      stream.pause();
      handshakeRests.set(stream, { decoder, frames: rest });
      resolve(hello as AgentHello);
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
      // A VM restored with processes running (workspace start) may send their output before
      // the hello answer: it belongs to the connection before, and is dropped.
      if (options.skipChannelFrames) frames = frames.filter((f) => f.channel === 0);
      const [frame, ...rest] = frames;
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
      finish(
        undefined,
        {
          protocol: PROTOCOL_VERSION,
          agentVersion:
            typeof h.agent_version === "string" ? h.agent_version.slice(0, 64) : "unknown",
          capabilities: Array.isArray(h.capabilities)
            ? h.capabilities.filter((c): c is string => typeof c === "string").slice(0, 64)
            : [],
        },
        rest,
      );
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

export interface GuestSetup {
  timeMs?: number;
  hostname?: string;
  machineId?: string;
  mounts?: { serial: string; target: string; read_only: boolean }[];
  /** Fresh host entropy for the guest's kernel RNG (16 to 512 bytes). */
  entropy: Buffer;
}

/**
 * Make a VM restored from a saved state its own (docs/protocol.md, "setup"): right after `greet`,
 * before anything else is sent. Extra hello answers from the handshake are skipped; whatever
 * follows `setup_done` is kept for the next reader, as `greet` does.
 */
export function guestSetup(stream: Duplex, setup: GuestSetup, timeoutMs: number): Promise<void> {
  const rest = takeHandshakeRest(stream);
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (error: Error | undefined, after: Frame[] = []) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off("data", onData);
      stream.off("close", onClose);
      stream.off("error", onClose);
      stream.pause();
      handshakeRests.set(stream, { decoder: rest.decoder, frames: after });
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () =>
        finish(
          new PyroError(
            "VM_BOOT_TIMEOUT",
            `guest agent did not finish setup within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    const onClose = () =>
      finish(new PyroError("VM_CRASHED", "the agent connection closed during setup"));
    const take = (frames: Frame[]) => {
      for (let i = 0; i < frames.length; i++) {
        const frame = frames[i] as Frame;
        if (frame.channel === 0 && frame.header.type === T.HELLO) continue;
        // A VM restored from a full snapshot has processes whose output may come first.
        if (frame.channel !== 0) continue;
        if (frame.channel === 0 && frame.header.type === T.SETUP_DONE) {
          return finish(undefined, frames.slice(i + 1));
        }
        const message =
          frame.header.type === T.ERROR && typeof frame.header.message === "string"
            ? frame.header.message.slice(0, 1000)
            : `unexpected ${frame.header.type} frame`;
        return finish(
          new PyroError("VM_BOOT_FAILED", `the restored guest could not be set up: ${message}`, {
            hint: "Run `pyro doctor`; PYRO_WARM=0 boots cold instead of restoring a saved state.",
          }),
        );
      }
    };
    const onData = (data: Buffer) => {
      try {
        take(rest.decoder.push(data));
      } catch (error) {
        finish(
          new PyroError(
            "PROTOCOL_ERROR",
            `guest agent broke the protocol: ${(error as Error).message}`,
          ),
        );
      }
    };
    stream.on("data", onData);
    stream.once("close", onClose);
    stream.once("error", onClose);
    stream.write(
      encodeFrame(
        0,
        {
          type: T.SETUP,
          ...(setup.timeMs !== undefined ? { time_ms: setup.timeMs } : {}),
          ...(setup.hostname ? { hostname: setup.hostname } : {}),
          ...(setup.machineId ? { machine_id: setup.machineId } : {}),
          ...(setup.mounts ? { mounts: setup.mounts } : {}),
        },
        setup.entropy,
      ),
    );
    take(rest.frames);
    if (!done) stream.resume();
  });
}
