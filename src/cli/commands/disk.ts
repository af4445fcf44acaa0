import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { printJson, printLines } from "../output.js";
import { intOption } from "../parse.js";

type Flags = { json?: boolean; snapshot?: string };

const example = (...lines: string[]) =>
  `\nExample${lines.length > 1 ? "s" : ""}:\n${lines.map((l) => `  ${l}`).join("\n")}`;

const snapshotOption = [
  "--snapshot <name>",
  "read this named snapshot (or baseline) instead of the disk's current state",
] as const;

/** `pyro workspace disk list|read|export`: offline reads of a stopped workspace's disk. */
export function registerDisk(ws: Command, ctx: CliContext): void {
  const disk = ws
    .command("disk")
    .description(
      "Read /workspace of a stopped or crashed workspace from its disk, without booting it.",
    );

  disk
    .command("list")
    .description(
      "List a directory of a stopped workspace's /workspace (links shown, not followed).",
    )
    .argument("<workspace-id>", "workspace id")
    .argument("[path]", "directory or file under /workspace (default /workspace)")
    .option("--recursive", "list the whole tree below the path")
    .option(...snapshotOption)
    .option("--json", "print JSON")
    .addHelpText("after", example("pyro workspace disk list WORKSPACE_ID src --recursive"))
    .action(
      async (
        workspaceId: string,
        guestPath: string | undefined,
        flags: Flags & { recursive?: boolean },
      ) =>
        ctx.run(flags.json, async () => {
          const result = await ctx.manager().listWorkspaceDisk(workspaceId, {
            ...(guestPath !== undefined ? { path: guestPath } : {}),
            recursive: flags.recursive === true,
            ...(flags.snapshot !== undefined ? { snapshot: flags.snapshot } : {}),
          });
          if (flags.json) return printJson(result);
          printLines(
            process.stdout,
            ...result.entries.map(
              (e) =>
                `${e.artifact_type.padEnd(12)} ${e.mode} ${String(e.size_bytes).padStart(10)} ${e.path}${e.link_target !== null ? ` -> ${e.link_target}` : ""}`,
            ),
          );
          if (result.truncated) {
            printLines(
              process.stderr,
              `[workspace-disk-list] truncated at ${result.count} entries`,
            );
          }
        }),
    );

  disk
    .command("read")
    .description("Print the first bytes of one file of a stopped workspace's /workspace.")
    .argument("<workspace-id>", "workspace id")
    .argument("<path>", "file under /workspace")
    .option("--max-bytes <n>", "bytes to read (default 65536, at most 16 MiB)", intOption)
    .option(...snapshotOption)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      example("pyro workspace disk read WORKSPACE_ID build.log --max-bytes 4096"),
    )
    .action(async (workspaceId: string, guestPath: string, flags: Flags & { maxBytes?: number }) =>
      ctx.run(flags.json, async () => {
        const result = await ctx.manager().readWorkspaceDisk(workspaceId, guestPath, {
          ...(flags.maxBytes !== undefined ? { maxBytes: flags.maxBytes } : {}),
          ...(flags.snapshot !== undefined ? { snapshot: flags.snapshot } : {}),
        });
        if (flags.json) return printJson(result);
        process.stdout.write(result.content);
        if (result.truncated) {
          printLines(
            process.stderr,
            `[workspace-disk-read] showed ${result.bytes_read} of ${result.size_bytes} bytes (raise --max-bytes for more)`,
          );
        }
      }),
    );

  disk
    .command("export")
    .description(
      "Copy a path (default all of /workspace) of a stopped workspace's disk to the host, with the checks of export.",
    )
    .argument("<workspace-id>", "workspace id")
    .argument("[path]", "path under /workspace (default /workspace)")
    .requiredOption("--output <host-path>", "where to write it on the host")
    .option("--overwrite", "replace an existing output")
    .option(...snapshotOption)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      example("pyro workspace disk export WORKSPACE_ID --output ./workspace-copy"),
    )
    .action(
      async (
        workspaceId: string,
        guestPath: string | undefined,
        flags: Flags & { output: string; overwrite?: boolean },
      ) =>
        ctx.run(flags.json, async () => {
          const result = await ctx.manager().exportWorkspaceDisk(workspaceId, {
            outputPath: flags.output,
            overwrite: flags.overwrite === true,
            ...(guestPath !== undefined ? { path: guestPath } : {}),
            ...(flags.snapshot !== undefined ? { snapshot: flags.snapshot } : {}),
          });
          if (flags.json) return printJson(result);
          printLines(
            process.stderr,
            `[workspace-disk-export] workspace_id=${workspaceId} workspace_path=${result.workspace_path} snapshot=${result.snapshot ?? "-"} output_path=${result.output_path} artifact_type=${result.artifact_type} entry_count=${result.entry_count} bytes_written=${result.bytes_written}`,
          );
        }),
    );
}
