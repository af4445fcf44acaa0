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
 *
 * `freeze` {lease_ms} freezes /workspace for a snapshot and answers {freeze_id, lease_ms,
 * used_bytes, entry_count}; the supervisor thaws it on `thaw` {freeze_id} (answer {was_frozen}),
 * when the requesting connection closes, or when the lease runs out, whichever comes first.
 * `was_frozen: false` means the watchdog thawed first: a snapshot taken meanwhile is not consistent.
 *
 * `full_snapshot` {dir, disk_name} pauses the VM and writes a full snapshot into `dir` (a
 * `.tmp-*` folder under the workspace's full-snapshots/), see src/supervisor/full-snapshot.ts.
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
  "freeze",
  "thaw",
  "full_snapshot",
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

/** How long the supervisor lets the guest take to freeze, or to thaw, /workspace. */
export const FREEZE_DEADLINE_MS = 15_000;
export const THAW_DEADLINE_MS = 10_000;
/** A freeze lease: what QMP needs to take the disk snapshot (connect + command) plus a margin. */
export const QMP_DEADLINE_MS = 5_000;
export const FREEZE_LEASE_MS = 2 * QMP_DEADLINE_MS + 5_000;
export const MIN_FREEZE_LEASE_MS = 1_000;
export const MAX_FREEZE_LEASE_MS = 60_000;

export interface FreezeReply {
  freeze_id: number;
  lease_ms: number;
  /** /workspace usage measured just before the freeze (guest-reported, sanity-checked). */
  used_bytes: number;
  entry_count: number;
}

export interface ThawReply {
  was_frozen: boolean;
}
