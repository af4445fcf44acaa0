import { Option, type Command } from "commander";
import { SHELL_DEFAULTS } from "../../contract.js";
import type { ShellRecord } from "../../core/workspace/shells.js";
import { SIGNAL_NAMES, type SignalName } from "../../protocol/messages.js";
import type { CliContext } from "../context.js";
import { printJson, printLines } from "../output.js";
import { intOption } from "../parse.js";

type JsonFlag = { json?: boolean };

const example = (...lines: string[]) =>
  `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  ${l}`).join("\n")}`;

const summary = (prefix: string, r: ShellRecord, extra = "") =>
  printLines(
    process.stderr,
    `[${prefix}] workspace_id=${r.workspace_id} shell_id=${r.shell_id} state=${r.state} cwd=${r.cwd} cols=${r.cols} rows=${r.rows}${r.exit_code !== null ? ` exit_code=${r.exit_code}` : ""}${extra} execution_mode=${r.execution_mode}`,
  );

/** `pyro workspace shell ...`: PTY shells that keep their state across calls. */
export function registerShell(ws: Command, ctx: CliContext): void {
  const shell = ws
    .command("shell")
    .description("Interactive PTY shells that keep cwd, env and running programs across calls.")
    .addHelpText(
      "after",
      example(
        "pyro workspace shell open WORKSPACE_ID",
        "pyro workspace shell write WORKSPACE_ID shell-1 --input 'cd src && export DEBUG=1'",
        "pyro workspace shell read WORKSPACE_ID shell-1 --wait-for-idle-ms 500 --plain",
      ),
    );

  shell
    .command("open")
    .description("Open a PTY running the login shell; prints the shell id.")
    .argument("<workspace-id>", "workspace id")
    .option("--cwd <path>", "working directory under /workspace (default /workspace)")
    .option("--cols <n>", `terminal columns (default ${SHELL_DEFAULTS.cols})`, intOption)
    .option("--rows <n>", `terminal rows (default ${SHELL_DEFAULTS.rows})`, intOption)
    .option("--json", "print the shell record as JSON")
    .addHelpText("after", example("pyro workspace shell open WORKSPACE_ID --cwd src --cols 160"))
    .action(
      async (
        workspaceId: string,
        flags: JsonFlag & { cwd?: string; cols?: number; rows?: number },
      ) =>
        ctx.run(flags.json, async () => {
          const record = await ctx.manager().openShell(workspaceId, {
            ...(flags.cwd !== undefined ? { cwd: flags.cwd } : {}),
            ...(flags.cols !== undefined ? { cols: flags.cols } : {}),
            ...(flags.rows !== undefined ? { rows: flags.rows } : {}),
          });
          if (flags.json) return printJson(record);
          printLines(process.stdout, record.shell_id);
          summary("workspace-shell-open", record);
        }),
    );

  shell
    .command("read")
    .description("Print a shell's output from a cursor; the summary line gives next_cursor.")
    .argument("<workspace-id>", "workspace id")
    .argument("<shell-id>", "shell id, e.g. shell-1")
    .option("--cursor <n>", "where to start reading (default 0)", intOption)
    .option(
      "--max-chars <n>",
      `most characters to print (default ${SHELL_DEFAULTS.maxChars})`,
      intOption,
    )
    .option(
      "--wait-for-idle-ms <n>",
      "first wait until the shell printed nothing for this long (at most 30 s in all)",
      intOption,
    )
    .option("--plain", "strip ANSI escapes and apply \\r and backspaces (cursors stay raw)")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      example(
        "pyro workspace shell read WORKSPACE_ID shell-1",
        "pyro workspace shell read WORKSPACE_ID shell-1 --cursor 1200 --wait-for-idle-ms 500 --plain",
      ),
    )
    .action(
      async (
        workspaceId: string,
        shellId: string,
        flags: JsonFlag & {
          cursor?: number;
          maxChars?: number;
          waitForIdleMs?: number;
          plain?: boolean;
        },
      ) =>
        ctx.run(flags.json, async () => {
          const read = await ctx.manager().readShell(workspaceId, shellId, {
            ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}),
            ...(flags.maxChars !== undefined ? { maxChars: flags.maxChars } : {}),
            ...(flags.waitForIdleMs !== undefined ? { waitForIdleMs: flags.waitForIdleMs } : {}),
            plain: flags.plain === true,
          });
          if (flags.json) return printJson(read);
          // Terminal output stays raw, as a terminal would show it (--plain strips escapes).
          process.stdout.write(read.output);
          if (read.output !== "" && !read.output.endsWith("\n")) process.stderr.write("\n");
          printLines(
            process.stderr,
            `[workspace-shell-read] workspace_id=${read.workspace_id} shell_id=${read.shell_id} state=${read.state}${read.exit_code !== null ? ` exit_code=${read.exit_code}` : ""} cursor=${read.cursor} next_cursor=${read.next_cursor} end_cursor=${read.end_cursor} truncated=${read.truncated}${read.truncated ? ` truncated_chars=${read.truncated_chars}` : ""}`,
          );
        }),
    );

  shell
    .command("write")
    .description("Type input into a running shell (a newline is appended unless --no-newline).")
    .argument("<workspace-id>", "workspace id")
    .argument("<shell-id>", "shell id")
    .requiredOption("--input <text>", "text to type")
    .option("--no-newline", "do not append a newline")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      example(
        "pyro workspace shell write WORKSPACE_ID shell-1 --input 'pwd'",
        "pyro workspace shell write WORKSPACE_ID shell-1 --input $'\\x04' --no-newline",
      ),
    )
    .action(
      async (
        workspaceId: string,
        shellId: string,
        flags: JsonFlag & { input: string; newline: boolean },
      ) =>
        ctx.run(flags.json, async () => {
          const result = await ctx.manager().writeShell(workspaceId, shellId, {
            input: flags.input,
            appendNewline: flags.newline,
          });
          if (flags.json) return printJson(result);
          summary("workspace-shell-write", result, ` input_chars=${result.input_chars}`);
        }),
    );

  shell
    .command("signal")
    .description(
      "Send a signal to the shell's foreground job (INT is Ctrl-C; KILL ends the shell).",
    )
    .argument("<workspace-id>", "workspace id")
    .argument("<shell-id>", "shell id")
    .addOption(new Option("--signal <name>", "signal to send").choices(SIGNAL_NAMES).default("INT"))
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace shell signal WORKSPACE_ID shell-1 --signal INT"))
    .action(
      async (workspaceId: string, shellId: string, flags: JsonFlag & { signal: SignalName }) =>
        ctx.run(flags.json, async () => {
          const result = await ctx
            .manager()
            .signalShell(workspaceId, shellId, { signalName: flags.signal });
          if (flags.json) return printJson(result);
          summary("workspace-shell-signal", result, ` signal=${result.signal}`);
        }),
    );

  shell
    .command("resize")
    .description("Resize a shell's terminal; programs see it (SIGWINCH, `stty size`).")
    .argument("<workspace-id>", "workspace id")
    .argument("<shell-id>", "shell id")
    .requiredOption("--cols <n>", "columns, 1 to 1000", intOption)
    .requiredOption("--rows <n>", "rows, 1 to 1000", intOption)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      example("pyro workspace shell resize WORKSPACE_ID shell-1 --cols 200 --rows 50"),
    )
    .action(
      async (
        workspaceId: string,
        shellId: string,
        flags: JsonFlag & { cols: number; rows: number },
      ) =>
        ctx.run(flags.json, async () => {
          const result = await ctx
            .manager()
            .resizeShell(workspaceId, shellId, { cols: flags.cols, rows: flags.rows });
          if (flags.json) return printJson(result);
          summary("workspace-shell-resize", result);
        }),
    );

  shell
    .command("close")
    .description("Close a shell: hang up its terminal and forget its output.")
    .argument("<workspace-id>", "workspace id")
    .argument("<shell-id>", "shell id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace shell close WORKSPACE_ID shell-1"))
    .action(async (workspaceId: string, shellId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const result = await ctx.manager().closeShell(workspaceId, shellId);
        if (flags.json) return printJson(result);
        summary("workspace-shell-close", result, " closed=true");
      }),
    );

  shell
    .command("list")
    .description("List a workspace's shells: running ones and stopped ones not closed yet.")
    .argument("<workspace-id>", "workspace id")
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace shell list WORKSPACE_ID"))
    .action(async (workspaceId: string, flags: JsonFlag) =>
      ctx.run(flags.json, async () => {
        const list = await ctx.manager().listShells(workspaceId);
        if (flags.json) return printJson(list);
        if (list.count === 0) process.stdout.write("No shells.\n");
        for (const s of list.shells) {
          printLines(
            process.stdout,
            `${s.shell_id}  ${s.state}${s.exit_code !== null ? ` (exit ${s.exit_code})` : ""}  ${s.cwd}  ${s.cols}x${s.rows}  started ${s.started_at}`,
          );
        }
      }),
    );
}
