import { toPyroError, PyroError } from "../core/errors.js";
import type { PyroPaths } from "../core/paths.js";
import { updateRecord } from "../core/workspace/record.js";
import { encodeFrame, type Frame } from "../protocol/frame.js";
import {
  CONTROL_ERROR,
  CONTROL_REPLY,
  isControlRequest,
  REPLY_CHUNK_BYTES,
  type ControlRequestType,
} from "../protocol/supervisor-control.js";
import { agentRunner, FreezeWatchdog } from "./freeze.js";
import type { ClientLink, Multiplexer } from "./mux.js";
import { ServiceTable } from "./services.js";
import { ShellTable } from "./shells.js";
import type { PortForwarder } from "./port-forwarder.js";

/**
 * The supervisor's side of the control messages (src/protocol/supervisor-control.ts): shells and
 * services live here, in the one process that outlives every client of the workspace.
 */
export class SupervisorControl {
  readonly shells: ShellTable;
  readonly services: ServiceTable;
  readonly freezer: FreezeWatchdog;
  /** Set by the supervisor's main: a full snapshot needs the VM and its files. */
  fullSnapshot: (body: Record<string, unknown>) => Promise<object> = () =>
    Promise.reject(new PyroError("GUEST_ERROR", "full snapshots are not available here"));
  private recordWrite: Promise<void> = Promise.resolve();
  private written = { service_count: 0, running_count: 0 };

  constructor(
    mux: Multiplexer,
    private readonly paths: PyroPaths,
    private readonly workspaceId: string,
    capabilities: readonly string[],
    ports: PortForwarder | null = null,
  ) {
    this.shells = new ShellTable(mux, workspaceId, capabilities);
    this.services = new ServiceTable(mux, workspaceId, () => this.mirrorCounts(), undefined, ports);
    this.freezer = new FreezeWatchdog(agentRunner(mux, workspaceId), workspaceId);
  }

  /** The mux's ControlHandler: true when the frame was a control request (answered later). */
  handle(client: ClientLink, frame: Frame): boolean {
    const type = frame.header.type;
    if (!isControlRequest(type)) return false;
    const requestId = frame.header.request_id;
    if (typeof requestId !== "number" || !Number.isInteger(requestId) || requestId < 0) {
      this.send(client, 0, undefined, new PyroError("INVALID_ARGUMENT", "request_id is missing"));
      return true;
    }
    if (!client.greeted) {
      this.send(client, requestId, undefined, new PyroError("PROTOCOL_ERROR", "send hello first"));
      return true;
    }
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = frame.payload.length
        ? JSON.parse(frame.payload.toString("utf8"))
        : {};
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
      body = parsed as Record<string, unknown>;
    } catch {
      this.send(
        client,
        requestId,
        undefined,
        new PyroError("INVALID_ARGUMENT", "the request payload must be a JSON object"),
      );
      return true;
    }
    this.dispatch(client, type, body).then(
      (result) => this.send(client, requestId, result),
      (error: unknown) => this.send(client, requestId, undefined, toPyroError(error)),
    );
    return true;
  }

  private async dispatch(
    client: ClientLink,
    type: ControlRequestType,
    body: Record<string, unknown>,
  ): Promise<object> {
    switch (type) {
      case "shell_open":
        return this.shells.open(body);
      case "shell_read":
        return this.shells.read(body);
      case "shell_write":
        return this.shells.write(body);
      case "shell_signal":
        return this.shells.signal(body);
      case "shell_resize":
        return this.shells.resize(body);
      case "shell_close":
        return this.shells.close(body);
      case "shell_list":
        return this.shells.list();
      case "service_start":
        return this.services.start(body);
      case "service_list":
        return this.services.list();
      case "service_status":
        return this.services.status(body);
      case "service_logs":
        return this.services.logs(body);
      case "service_stop":
        return this.services.stop(body);
      case "freeze":
        return this.freezer.freeze(client, body);
      case "thaw":
        return this.freezer.thaw(client, body);
      case "full_snapshot":
        return this.fullSnapshot(body);
    }
  }

  /** A result or an error, its JSON split over as many frames as it needs. */
  private send(client: ClientLink, requestId: number, result?: object, error?: PyroError): void {
    if (client.socket.destroyed) return;
    const json = Buffer.from(
      JSON.stringify(error ? (error.details ?? {}) : (result ?? {})),
      "utf8",
    );
    let offset = 0;
    while (json.length - offset > REPLY_CHUNK_BYTES) {
      client.socket.write(
        encodeFrame(
          0,
          { type: CONTROL_REPLY, request_id: requestId, more: true },
          json.subarray(offset, offset + REPLY_CHUNK_BYTES),
        ),
      );
      offset += REPLY_CHUNK_BYTES;
    }
    const last = error
      ? {
          type: CONTROL_ERROR,
          request_id: requestId,
          code: error.code,
          message: error.message.slice(0, 6000),
          ...(error.hint !== undefined ? { hint: error.hint.slice(0, 2000) } : {}),
        }
      : { type: CONTROL_REPLY, request_id: requestId };
    client.socket.write(encodeFrame(0, last, json.subarray(offset)));
  }

  /** Keep service_count and running_service_count in workspace.json current, one write at a time. */
  private mirrorCounts(): void {
    this.recordWrite = this.recordWrite.then(async () => {
      const latest = this.services.counts();
      if (
        latest.service_count === this.written.service_count &&
        latest.running_count === this.written.running_count
      ) {
        return;
      }
      await updateRecord(this.paths, this.workspaceId, (r) => {
        r.service_count = latest.service_count;
        r.running_service_count = latest.running_count;
      }).catch(() => undefined); // a workspace being deleted has no record to update
      this.written = latest;
    });
  }
}
