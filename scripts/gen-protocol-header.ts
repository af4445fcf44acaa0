/**
 * Generate guest/agent/protocol.h from src/protocol/messages.ts, the one message table.
 * `npm run gen:protocol` writes it; tests/unit/protocol-header.test.ts fails if it drifts.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as m from "../src/protocol/messages.js";

export function renderProtocolHeader(): string {
  const lines = [
    "/* Generated from src/protocol/messages.ts (npm run gen:protocol). Do not edit by hand. */",
    "#ifndef PYRO_PROTOCOL_H",
    "#define PYRO_PROTOCOL_H",
    "",
    `#define PYRO_PROTOCOL_VERSION ${m.PROTOCOL_VERSION}`,
    `#define PYRO_AGENT_VERSION "${m.AGENT_VERSION}"`,
    `#define PYRO_MAX_HEADER_BYTES ${m.MAX_HEADER_BYTES}`,
    `#define PYRO_MAX_FRAME_BYTES ${m.MAX_FRAME_BYTES}`,
    `#define PYRO_MAX_CHUNK_BYTES ${m.MAX_CHUNK_BYTES}`,
    `#define PYRO_AGENT_PORT_NAME "${m.AGENT_PORT_NAME}"`,
    `#define PYRO_DEFAULT_WINDOW_BYTES ${m.DEFAULT_WINDOW_BYTES}`,
    `#define PYRO_MAX_WINDOW_BYTES ${m.MAX_WINDOW_BYTES}`,
    "",
    ...Object.entries(m.MESSAGE_TYPES).map(([name, type]) => `#define PYRO_MSG_${name} "${type}"`),
    "",
    "#endif",
    "",
  ];
  return lines.join("\n");
}

export const HEADER_PATH = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "guest",
  "agent",
  "protocol.h",
);

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  writeFileSync(HEADER_PATH, renderProtocolHeader());
}
