import { identityFields, secretEnvFlag, secretEnvFromFlags } from "./identity.js";
import { z } from "zod";
import { SHELL_DEFAULTS } from "../contract.js";
import { SHELL_SERVICE_LIMITS } from "../core/workspace/shell-service-args.js";
import { SIGNAL_NAMES } from "../protocol/messages.js";
import { defineOperation, managerOptions, type HumanOutput, HINTS } from "./define.js";
import { fields, wholeNumber } from "./fields.js";
import { lines } from "./human.js";
import {
  shellClosed,
  shellList,
  shellRead,
  shellRecord,
  shellSignalled,
  shellWritten,
} from "./payloads.js";

const byShell = { workspace_id: fields.workspaceId, shell_id: fields.shellId };
const shellArgs = ["workspace_id", "shell_id"] as const;

function summary(prefix: string, r: z.output<typeof shellRecord>, extra = ""): HumanOutput {
  return {
    stderr: lines(
      `[${prefix}] workspace_id=${r.workspace_id} shell_id=${r.shell_id} state=${r.state} cwd=${r.cwd} cols=${r.cols} rows=${r.rows}${r.exit_code !== null ? ` exit_code=${r.exit_code}` : ""}${extra} execution_mode=${r.execution_mode}`,
    ),
  };
}

const cols = wholeNumber(
  SHELL_SERVICE_LIMITS.cols,
  `Terminal columns (default ${SHELL_DEFAULTS.cols}).`,
);
const rows = wholeNumber(
  SHELL_SERVICE_LIMITS.rows,
  `Terminal rows (default ${SHELL_DEFAULTS.rows}).`,
);

export const openShell = defineOperation({
  sdk: "openShell",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "shell_open", title: "Open a shell" },
  cli: {
    path: ["workspace", "shell", "open"],
    args: ["workspace_id"],
    extra: { options: [secretEnvFlag], fold: secretEnvFromFlags },
    examples: [
      "pyro workspace shell open WORKSPACE_ID --cwd src --cols 160",
      "pyro workspace shell open WORKSPACE_ID --secret-env API_TOKEN",
    ],
  },
  description:
    "Open a PTY running the login shell in a workspace (default cwd /workspace, 120x30). The shell keeps its cwd, environment and running programs across calls until shell close, reset or delete. Use it for interactive programs or state that must persist between commands. Returns shell_id.",
  hints: HINTS.add,
  input: {
    workspace_id: fields.workspaceId,
    cwd: fields.guestCwd.optional(),
    cols: cols.optional(),
    rows: rows.optional(),
    secret_env: identityFields.secretEnv.optional(),
  },
  output: shellRecord,
  run: (manager, input) =>
    manager.openShell(input.workspace_id, managerOptions(input, ["workspace_id"])),
  print: (record) => ({
    stdout: lines(record.shell_id),
    stderr: summary("workspace-shell-open", record).stderr,
  }),
});

export const readShell = defineOperation({
  sdk: "readShell",
  sdkArgs: shellArgs,
  mcp: { tool: "shell_read", title: "Read shell output" },
  cli: {
    path: ["workspace", "shell", "read"],
    args: shellArgs,
    examples: [
      "pyro workspace shell read WORKSPACE_ID shell-1",
      "pyro workspace shell read WORKSPACE_ID shell-1 --cursor 1200 --wait-for-idle-ms 500 --plain",
    ],
  },
  description:
    "Read a shell's output from an absolute cursor (default 0); pass next_cursor to the next read. truncated/truncated_chars tell how much older output the bounded buffer dropped. wait_for_idle_ms waits until output settles (max 30 s); plain strips ANSI escapes and applies \\r and backspaces.",
  hints: HINTS.read,
  input: {
    ...byShell,
    cursor: z
      .number({ invalid_type_error: "expected a whole number" })
      .int("must be a whole number of 0 or more")
      .min(0, "must be a whole number of 0 or more")
      .describe("Where to start reading (default 0).")
      .optional(),
    max_chars: wholeNumber(
      SHELL_SERVICE_LIMITS.maxChars,
      `Most characters to return (default ${SHELL_DEFAULTS.maxChars}).`,
    ).optional(),
    wait_for_idle_ms: wholeNumber(
      SHELL_SERVICE_LIMITS.waitForIdleMs,
      "First wait until the shell printed nothing (and got no input) for this long; at most 30 s in all.",
    ).optional(),
    plain: z
      .boolean()
      .describe(
        "Return screen text: ANSI escapes removed, \\r and backspace applied (cursors stay raw).",
      )
      .optional(),
  },
  output: shellRead,
  run: (manager, input) =>
    manager.readShell(input.workspace_id, input.shell_id, managerOptions(input, shellArgs)),
  // Terminal output stays raw, as a terminal would show it (--plain strips escapes).
  print: (read) => ({
    stdout: read.output,
    stderr: `${read.output === "" || read.output.endsWith("\n") ? "" : "\n"}${lines(
      `[workspace-shell-read] workspace_id=${read.workspace_id} shell_id=${read.shell_id} state=${read.state}${read.exit_code !== null ? ` exit_code=${read.exit_code}` : ""} cursor=${read.cursor} next_cursor=${read.next_cursor} end_cursor=${read.end_cursor} truncated=${read.truncated}${read.truncated ? ` truncated_chars=${read.truncated_chars}` : ""}`,
    )}`,
  }),
});

export const writeShell = defineOperation({
  sdk: "writeShell",
  sdkArgs: shellArgs,
  mcp: { tool: "shell_write", title: "Type into a shell" },
  cli: {
    path: ["workspace", "shell", "write"],
    args: shellArgs,
    flags: { append_newline: "--no-newline" },
    examples: [
      "pyro workspace shell write WORKSPACE_ID shell-1 --input 'pwd'",
      "pyro workspace shell write WORKSPACE_ID shell-1 --input $'\\x04' --no-newline",
    ],
  },
  description:
    "Type input into a running shell; a newline is appended unless append_newline is false. Read the result with shell read (wait_for_idle_ms helps).",
  hints: HINTS.add,
  input: {
    ...byShell,
    input: z
      .string()
      .max(
        SHELL_SERVICE_LIMITS.inputChars,
        `must be at most ${SHELL_SERVICE_LIMITS.inputChars} characters per write`,
      )
      .describe("Text to type, e.g. `cd src && ls`."),
    append_newline: z.boolean().describe("Append a newline (default true).").optional(),
  },
  output: shellWritten,
  run: (manager, input) =>
    manager.writeShell(input.workspace_id, input.shell_id, managerOptions(input, shellArgs)),
  print: (result) => summary("workspace-shell-write", result, ` input_chars=${result.input_chars}`),
});

export const signalShell = defineOperation({
  sdk: "signalShell",
  sdkArgs: shellArgs,
  mcp: { tool: "shell_signal", title: "Signal a shell's foreground job" },
  cli: {
    path: ["workspace", "shell", "signal"],
    args: shellArgs,
    flags: { signal_name: "--signal" },
    examples: ["pyro workspace shell signal WORKSPACE_ID shell-1 --signal INT"],
  },
  description:
    "Send a signal to a shell's foreground job: INT (default, like Ctrl-C), TERM, HUP or KILL (KILL ends the whole shell).",
  hints: HINTS.destroy,
  input: {
    ...byShell,
    signal_name: z
      .enum(SIGNAL_NAMES, {
        errorMap: () => ({ message: `must be one of ${SIGNAL_NAMES.join(", ")}` }),
      })
      .describe("Signal to send (default INT).")
      .optional(),
  },
  output: shellSignalled,
  run: (manager, input) =>
    manager.signalShell(input.workspace_id, input.shell_id, managerOptions(input, shellArgs)),
  print: (result) => summary("workspace-shell-signal", result, ` signal=${result.signal}`),
});

export const resizeShell = defineOperation({
  sdk: "resizeShell",
  sdkArgs: shellArgs,
  mcp: { tool: "shell_resize", title: "Resize a shell" },
  cli: {
    path: ["workspace", "shell", "resize"],
    args: shellArgs,
    examples: ["pyro workspace shell resize WORKSPACE_ID shell-1 --cols 200 --rows 50"],
  },
  description:
    "Resize a shell's terminal (programs get SIGWINCH and see the new size, e.g. in `stty size`).",
  hints: HINTS.update,
  input: {
    ...byShell,
    cols: cols.describe("Columns, 1 to 1000."),
    rows: rows.describe("Rows, 1 to 1000."),
  },
  output: shellRecord,
  run: (manager, input) =>
    manager.resizeShell(input.workspace_id, input.shell_id, managerOptions(input, shellArgs)),
  print: (result) => summary("workspace-shell-resize", result),
});

export const closeShell = defineOperation({
  sdk: "closeShell",
  sdkArgs: shellArgs,
  mcp: { tool: "shell_close", title: "Close a shell" },
  cli: {
    path: ["workspace", "shell", "close"],
    args: shellArgs,
    examples: ["pyro workspace shell close WORKSPACE_ID shell-1"],
  },
  description:
    "Close a shell: hang up its terminal (KILL after a second) and forget it and its output.",
  hints: HINTS.destroy,
  input: byShell,
  output: shellClosed,
  run: (manager, input) => manager.closeShell(input.workspace_id, input.shell_id),
  print: (result) => summary("workspace-shell-close", result, " closed=true"),
});

export const listShells = defineOperation({
  sdk: "listShells",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "shell_list", title: "List shells" },
  cli: {
    path: ["workspace", "shell", "list"],
    args: ["workspace_id"],
    examples: ["pyro workspace shell list WORKSPACE_ID"],
  },
  description:
    "List a workspace's shells (running, and stopped ones not closed yet) with cwd, size and state.",
  hints: HINTS.read,
  input: { workspace_id: fields.workspaceId },
  output: shellList,
  run: (manager, input) => manager.listShells(input.workspace_id),
  print: (list) => ({
    stdout:
      (list.count === 0 ? "No shells.\n" : "") +
      lines(
        ...list.shells.map(
          (s) =>
            `${s.shell_id}  ${s.state}${s.exit_code !== null ? ` (exit ${s.exit_code})` : ""}  ${s.cwd}  ${s.cols}x${s.rows}  started ${s.started_at}`,
        ),
      ),
  }),
});
