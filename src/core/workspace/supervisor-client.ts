import net from "node:net";
import { takeHandshakeRest } from "../../protocol/client.js";
import { encodeFrame, type FrameDecoder, type Frame } from "../../protocol/frame.js";
import {
  CONTROL_ERROR,
  CONTROL_REPLY,
  MAX_REPLY_BYTES,
  type ControlRequestType,
} from "../../protocol/supervisor-control.js";
import { PyroError, type ErrorCode } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { openSupervisorSocket } from "./lifecycle.js";

/** Host-side deadline of a control request that does not say how long it may wait. */
export const DEFAULT_REQUEST_DEADLINE_MS = 60_000;

interface Pending {
  parts: Buffer[];
  size: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A client of a workspace supervisor's control messages (shells, services): connects to
 * supervisor.sock, says hello, then sends requests and awaits the replies with the same
 * request_id. Errors from the supervisor come back as PyroError with the supervisor's code.
 */
export class SupervisorClient {
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private closedWith: Error | undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly workspaceId: string,
  ) {
    const rest = takeHandshakeRest(socket);
    this.decoder = rest.decoder;
    socket.on("data", (data: Buffer) => this.onData(data));
    socket.on("error", (error) => this.fail(new PyroError("VM_CRASHED", error.message)));
    socket.on("close", () =>
      this.fail(
        new PyroError("WORKSPACE_NOT_RUNNING", `workspace ${workspaceId}'s supervisor went away`, {
          hint: `Check it with \`pyro workspace status ${workspaceId}\`.`,
        }),
      ),
    );
    for (const frame of rest.frames) this.dispatch(frame);
    socket.resume();
  }

  /** Connect to a running workspace's supervisor (a typed error if it is not running). */
  static async connect(paths: PyroPaths, workspaceId: string): Promise<SupervisorClient> {
    const socket = await openSupervisorSocket(paths, workspaceId);
    return new SupervisorClient(socket, workspaceId);
  }

  /**
   * Send one control request and wait for its reply. `timeoutMs` is the host-side deadline
   * (default DEFAULT_REQUEST_DEADLINE_MS; requests that wait in the guest pass their own wait plus
   * a grace): a supervisor or guest that does not answer in time is GUEST_UNRESPONSIVE.
   */
  request<T>(
    type: ControlRequestType,
    body: object = {},
    timeoutMs = DEFAULT_REQUEST_DEADLINE_MS,
  ): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const requestId = this.nextRequestId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(
          new PyroError(
            "GUEST_UNRESPONSIVE",
            `workspace ${this.workspaceId} did not answer ${type} within ${Math.round(timeoutMs / 1000)} s`,
            {
              hint: `The guest is stuck (a fork bomb or memory exhaustion, say); run \`pyro workspace reset ${this.workspaceId}\`.`,
            },
          ),
        );
      }, timeoutMs);
      this.pending.set(requestId, {
        parts: [],
        size: 0,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
      this.socket.write(
        encodeFrame(0, { type, request_id: requestId }, Buffer.from(JSON.stringify(body), "utf8")),
      );
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(data: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(data);
    } catch (error) {
      this.fail(
        new PyroError(
          "PROTOCOL_ERROR",
          `the supervisor broke the protocol: ${(error as Error).message}`,
        ),
      );
      return;
    }
    for (const frame of frames) this.dispatch(frame);
  }

  private dispatch(frame: Frame): void {
    const h = frame.header;
    if (frame.channel !== 0 || (h.type !== CONTROL_REPLY && h.type !== CONTROL_ERROR)) return;
    const pending = typeof h.request_id === "number" ? this.pending.get(h.request_id) : undefined;
    if (!pending) {
      if (h.type === CONTROL_ERROR && h.request_id === undefined && h.code === "UNKNOWN_TYPE") {
        // A supervisor started by an older pyro: it has no shells or services.
        this.fail(
          new PyroError(
            "WORKSPACE_NOT_RUNNING",
            `workspace ${this.workspaceId} runs a supervisor without shell and service support`,
            {
              hint: `Restart it with \`pyro workspace reset ${this.workspaceId}\` (this rebuilds the sandbox).`,
            },
          ),
        );
      }
      return;
    }
    pending.size += frame.payload.length;
    if (pending.size > MAX_REPLY_BYTES) {
      this.fail(new PyroError("PROTOCOL_ERROR", "the supervisor sent an oversized reply"));
      return;
    }
    pending.parts.push(frame.payload);
    if (h.more === true) return;
    const requestId = h.request_id as number;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    let payload: unknown = {};
    try {
      const text = Buffer.concat(pending.parts).toString("utf8");
      payload = text ? JSON.parse(text) : {};
    } catch {
      pending.reject(
        new PyroError("PROTOCOL_ERROR", "the supervisor sent a reply that is not JSON"),
      );
      return;
    }
    if (h.type === CONTROL_REPLY) {
      pending.resolve(payload);
      return;
    }
    const details =
      payload && typeof payload === "object" && Object.keys(payload).length > 0
        ? (payload as Record<string, unknown>)
        : undefined;
    pending.reject(
      new PyroError(
        (typeof h.code === "string" ? h.code : "INTERNAL") as ErrorCode,
        typeof h.message === "string" ? h.message : "the supervisor refused the request",
        {
          ...(typeof h.hint === "string" ? { hint: h.hint } : {}),
          ...(details ? { details } : {}),
        },
      ),
    );
  }

  private fail(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    this.socket.destroy();
  }
}

/** Connect, run one request, disconnect. */
export async function supervisorRequest<T>(
  paths: PyroPaths,
  workspaceId: string,
  type: ControlRequestType,
  body: object,
  timeoutMs?: number,
): Promise<T> {
  const client = await SupervisorClient.connect(paths, workspaceId);
  try {
    return await client.request<T>(type, body, timeoutMs);
  } finally {
    client.close();
  }
}
