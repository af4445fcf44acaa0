/**
 * Control messages between clients and a workspace supervisor (docs/protocol.md, "Supervisor
 * control messages"). They travel on channel 0 of a client's supervisor.sock connection, next to
 * the agent protocol the supervisor relays, and drive the shells and services the supervisor owns.
 *
 * Request: one frame, header {"type": <request type>, "request_id": n}, payload the JSON arguments.
 * Response: frames {"type":"reply","request_id":n,"more":true} carrying parts of the payload, then
 * a last frame without "more": {"type":"reply","request_id":n} (payload: rest of the JSON result)
 * or {"type":"error","request_id":n,"code":...,"message":...,"hint":...} (payload: JSON details,
 * possibly empty). The concatenated payloads form one JSON document.
 */
export const CONTROL_REQUEST_TYPES = [
  "shell_open",
  "shell_read",
  "shell_write",
  "shell_signal",
  "shell_resize",
  "shell_close",
  "shell_list",
  "service_start",
  "service_list",
  "service_status",
  "service_logs",
  "service_stop",
] as const;

export type ControlRequestType = (typeof CONTROL_REQUEST_TYPES)[number];

export const CONTROL_REPLY = "reply";
export const CONTROL_ERROR = "error";

/** Payload bytes per reply frame (the frame limit is 1 MiB of payload). */
export const REPLY_CHUNK_BYTES = 256 * 1024;
/** A client refuses replies larger than this. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export function isControlRequest(type: unknown): type is ControlRequestType {
  return typeof type === "string" && (CONTROL_REQUEST_TYPES as readonly string[]).includes(type);
}
