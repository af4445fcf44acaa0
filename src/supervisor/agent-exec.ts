import { execHeader, guestError, type ExecRequest } from "../protocol/client.js";
import { CreditGranter } from "../protocol/flow.js";
import type { Frame } from "../protocol/frame.js";
import {
  MAX_CHUNK_BYTES,
  MAX_WINDOW_BYTES,
  MESSAGE_TYPES as T,
  type SignalName,
} from "../protocol/messages.js";
import type { Multiplexer } from "./mux.js";

/**
 * Processes the supervisor itself runs in the guest (shells, services, readiness probes), on agent
 * channels of its own. They belong to no client, so no client going away can end them; they end
 * when they exit, when they are signalled, or with the VM. Their output goes into bounded rings
 * right away, so the supervisor grants the agent credit as soon as a chunk is handled: a slow
 * client never holds them up, and an agent that sends past its credit is ignored, not buffered.
 */
export type OwnExecRequest = ExecRequest;

export interface OwnExecExit {
  exitCode: number;
  signal: string | null;
  timedOut: boolean;
}

export interface OwnExec {
  readonly channel: number;
  /** The guest pid once the agent started the process; rejects if it could not be started. */
  readonly started: Promise<number>;
  /** The exit; rejects when the agent refused the request. */
  readonly result: Promise<OwnExecExit>;
  readonly done: boolean;
  write(data: Buffer): void;
  signal(name: SignalName): void;
  resize(cols: number, rows: number): void;
}

/**
 * A process the agent already runs on `channel` (a VM restored from a full snapshot): no exec is
 * sent; both sides' credit is set to the clamp (we grant the maximum, the agent clamps at it), so
 * credit frames lost with the old host cannot stall the channel.
 */
export interface AdoptedExec {
  channel: number;
  pid: number;
}

export function ownExec(
  mux: Multiplexer,
  request: OwnExecRequest,
  handlers: { onStdout?: (chunk: Buffer) => void; onStderr?: (chunk: Buffer) => void } = {},
  adopt?: AdoptedExec,
): OwnExec {
  const channel = adopt?.channel ?? mux.allocateAgentChannel();
  let done = false;
  let resolveStarted!: (pid: number) => void;
  let rejectStarted!: (error: Error) => void;
  let resolveResult!: (exit: OwnExecExit) => void;
  let rejectResult!: (error: Error) => void;
  const started = new Promise<number>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  const result = new Promise<OwnExecExit>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  // Callers may await only one of them; never leave the other as an unhandled rejection.
  started.catch(() => undefined);
  result.catch(() => undefined);

  const credit = new CreditGranter(
    (bytes) => {
      if (!done) mux.sendToAgent(channel, { type: T.CREDIT, bytes });
    },
    ...(adopt ? [MAX_WINDOW_BYTES] : []),
  );
  const deliver = (chunk: Buffer, handler: ((chunk: Buffer) => void) | undefined) => {
    try {
      credit.limit.spend(chunk.length);
    } catch {
      return; // past its credit: dropped (our rings are bounded anyway)
    }
    handler?.(chunk);
    credit.consumed(chunk.length);
  };
  const finish = () => {
    done = true;
    mux.ownChannelHandlers.delete(channel);
  };
  mux.ownChannelHandlers.set(channel, (frame: Frame) => {
    const h = frame.header;
    switch (h.type) {
      case T.STARTED:
        resolveStarted(typeof h.pid === "number" ? h.pid : 0);
        return;
      case T.STDOUT:
        return deliver(frame.payload, handlers.onStdout);
      case T.STDERR:
        return deliver(frame.payload, handlers.onStderr);
      case T.EXIT: {
        finish();
        const code = h.exit_code;
        const exit: OwnExecExit = {
          exitCode:
            typeof code === "number" && Number.isInteger(code) && code >= 0 && code <= 255
              ? code
              : 255,
          signal: typeof h.signal === "string" ? h.signal.slice(0, 16) : null,
          timedOut: h.timed_out === true,
        };
        resolveStarted(0);
        resolveResult(exit);
        return;
      }
      case T.ERROR: {
        finish();
        const error = guestError(h, "Pass a working directory that exists in the guest (--cwd).");
        rejectStarted(error);
        rejectResult(error);
        return;
      }
      default:
        return;
    }
  });
  if (adopt) {
    resolveStarted(adopt.pid);
    mux.sendToAgent(channel, { type: T.CREDIT, bytes: MAX_WINDOW_BYTES });
  } else {
    mux.sendToAgent(channel, execHeader(request));
  }
  return {
    channel,
    started,
    result,
    get done() {
      return done;
    },
    write: (data) => {
      if (done) return;
      for (let offset = 0; offset < data.length; offset += MAX_CHUNK_BYTES) {
        mux.sendToAgent(
          channel,
          { type: T.STDIN },
          data.subarray(offset, offset + MAX_CHUNK_BYTES),
        );
      }
    },
    signal: (name) => {
      if (!done) mux.sendToAgent(channel, { type: T.SIGNAL, signal: name });
    },
    resize: (cols, rows) => {
      if (!done) mux.sendToAgent(channel, { type: T.RESIZE, cols, rows });
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A process that had already ended when a full snapshot was taken: nothing to send, ever. */
export function endedExec(channel: number, exitCode: number | null): OwnExec {
  const exit: OwnExecExit = { exitCode: exitCode ?? 255, signal: null, timedOut: false };
  return {
    channel,
    started: Promise.resolve(0),
    result: Promise.resolve(exit),
    done: true,
    write: () => undefined,
    signal: () => undefined,
    resize: () => undefined,
  };
}
