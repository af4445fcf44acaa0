import { z } from "zod";
import { MAX_OUTPUT_BYTES, MAX_WAIT_SECONDS } from "../core/output-bounds.js";
import { MAX_PAGE_BYTES } from "../core/workspace/journal.js";
import { wholeNumber } from "./fields.js";

/**
 * Input fields of bounded output and long commands (docs/long-commands-and-output.md): the size
 * of a result, how long a call waits, and paging a command's full output out of the journal.
 */
export const MCP_DEFAULT_WAIT_SECONDS = 50;

export const outputFields = {
  maxOutputBytes: wholeNumber(
    { min: 0, max: MAX_OUTPUT_BYTES },
    `Bytes of each of stdout and stderr kept in the result, half from the start and half from the end (default 16384, at most ${MAX_OUTPUT_BYTES}); *_truncated and *_bytes tell what was left out.`,
  ),
  waitSeconds: wholeNumber(
    { min: 0, max: MAX_WAIT_SECONDS },
    `Return after this many seconds with state "running" and the sequence if the command has not finished (MCP default ${MCP_DEFAULT_WAIT_SECONDS}, under a client's 60 s timeout; SDK default: wait until it ends). It goes on, owned by this server or program; workspace_logs with the sequence and wait_seconds gives its end.`,
  ),
  runWaitSeconds: wholeNumber(
    { min: 0, max: MAX_WAIT_SECONDS },
    `Return after this many seconds with state "running" and a run_id if the command has not finished (MCP default ${MCP_DEFAULT_WAIT_SECONDS}; SDK default: wait until it ends). The VM goes on, owned by this server or program; vm_run_wait with the run_id gives the end.`,
  ),
  sequence: wholeNumber(
    { min: 1, max: Number.MAX_SAFE_INTEGER },
    "One command's sequence number: return its entry and a page of its full output.",
  ),
  stream: z
    .enum(["stdout", "stderr"])
    .describe("Which output of the command to page through (default stdout)."),
  offset: wholeNumber(
    { min: 0, max: Number.MAX_SAFE_INTEGER },
    "Byte offset into the stream where the page starts (default 0; pass the last page's next_offset).",
  ),
  limit: wholeNumber(
    { min: 1, max: MAX_PAGE_BYTES },
    `Bytes in the page (default 65536, at most ${MAX_PAGE_BYTES}).`,
  ),
  logsWaitSeconds: wholeNumber(
    { min: 0, max: MAX_WAIT_SECONDS },
    "With a sequence: wait up to this many seconds for a running command to end before answering (default 0).",
  ),
};
