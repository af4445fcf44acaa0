/**
 * The one message table of the host <-> guest agent protocol (docs/protocol.md). The C header
 * guest/agent/protocol.h is generated from this file by scripts/gen-protocol-header.ts; a test
 * fails when the checked-in header drifts.
 */
export const PROTOCOL_VERSION = 3;
export const AGENT_VERSION = "2.8.0";
export const MAX_HEADER_BYTES = 65_536;
export const MAX_CHUNK_BYTES = 65_536;
/** Largest frame body: a full header plus 1 MiB of payload. */
export const MAX_FRAME_BYTES = 1_048_576 + MAX_HEADER_BYTES;
export const AGENT_PORT_NAME = "org.pyro.agent.0";
/**
 * Output flow control (docs/protocol.md, "Flow control"): an exec's `window` is the output credit
 * it starts with; `credit` frames add more. The agent never holds more than MAX_WINDOW_BYTES of
 * credit per channel, whatever the host grants.
 */
export const DEFAULT_WINDOW_BYTES = 1_048_576;
export const MAX_WINDOW_BYTES = 67_108_864;

export const MESSAGE_TYPES = {
  HELLO: "hello",
  PING: "ping",
  PONG: "pong",
  SHUTDOWN: "shutdown",
  EXEC: "exec",
  STARTED: "started",
  STDOUT: "stdout",
  STDERR: "stderr",
  STDIN: "stdin",
  STDIN_EOF: "stdin_eof",
  SIGNAL: "signal",
  RESIZE: "resize",
  CREDIT: "credit",
  EXIT: "exit",
  ERROR: "error",
  /** Host to agent after a restore: entropy, clock, identity, mounts (docs/protocol.md). */
  SETUP: "setup",
  SETUP_DONE: "setup_done",
} as const;

export type MessageType = (typeof MESSAGE_TYPES)[keyof typeof MESSAGE_TYPES];

export const SIGNAL_NAMES = ["HUP", "INT", "TERM", "KILL"] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

/** Exit status reported for a command killed because it outlived its timeout (as timeout(1)). */
export const TIMEOUT_EXIT_CODE = 124;
