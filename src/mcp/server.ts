import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { WorkspaceManager } from "../core/manager.js";
import { PyroError, toPyroError } from "../core/errors.js";
import { VERSION } from "../version.js";
import type { McpTool } from "../contract.js";

/**
 * The MCP surface: one tool per manager operation. Inputs are checked by zod schemas at the edge
 * and ranges by the manager; every result is the same JSON object the CLI prints with `--json`,
 * returned as structured content. Failures come back as tool errors, never as a server crash.
 */
export function createServer(manager: WorkspaceManager): McpServer {
  const server = new McpServer({ name: "pyro", version: VERSION });
  const tool = <Shape extends z.ZodRawShape>(
    name: McpTool,
    description: string,
    inputSchema: Shape,
    run: (args: z.objectOutputType<Shape, z.ZodTypeAny>) => Promise<object>,
  ) => {
    server.registerTool(name, { description, inputSchema }, (async (
      args: z.objectOutputType<Shape, z.ZodTypeAny>,
    ) => respond(() => run(args), Object.keys(inputSchema))) as never);
  };

  tool(
    "vm_run",
    "Run one shell command in a fresh, disposable microVM and return its output and exit code. " +
      "The VM is deleted afterwards. Example: environment debian:12, command `git --version`.",
    {
      environment: z
        .string()
        .describe("Environment name, e.g. debian:12 (see vm_list_environments)."),
      command: z.string().describe("One shell command string, run with /bin/sh -c in the guest."),
      vcpu_count: z.number().int().optional().describe("Virtual CPUs (default 1)."),
      mem_mib: z.number().int().optional().describe("Memory in MiB (default 1024)."),
      timeout_seconds: z.number().int().optional().describe("Command timeout (default 30)."),
      ttl_seconds: z
        .number()
        .int()
        .optional()
        .describe("Upper bound on the VM's life (default 600)."),
      network: z
        .boolean()
        .optional()
        .describe("Give the guest user-mode network egress (default off)."),
    },
    (args) =>
      manager.runInVm({
        environment: args.environment,
        command: args.command,
        ...(args.vcpu_count !== undefined ? { vcpuCount: args.vcpu_count } : {}),
        ...(args.mem_mib !== undefined ? { memMib: args.mem_mib } : {}),
        ...(args.timeout_seconds !== undefined ? { timeoutSeconds: args.timeout_seconds } : {}),
        ...(args.ttl_seconds !== undefined ? { ttlSeconds: args.ttl_seconds } : {}),
        ...(args.network !== undefined ? { network: args.network } : {}),
      }),
  );

  tool(
    "vm_list_environments",
    "List the environments pyro can boot (debian:12, debian:12-base, debian:12-build) and whether each is installed.",
    {},
    () => manager.listEnvironments(),
  );

  const workspaceId = z.string().describe("Workspace id, as returned by workspace_create.");

  tool(
    "workspace_create",
    "Create and start a persistent workspace: a microVM with /workspace seeded from a host directory or .tar/.tar.gz/.tgz archive, and an immutable create-time baseline for diff.",
    {
      environment: z.string().describe("Environment name, e.g. debian:12."),
      vcpu_count: z.number().int().optional().describe("Virtual CPUs (default 1)."),
      mem_mib: z.number().int().optional().describe("Memory in MiB (default 1024)."),
      ttl_seconds: z
        .number()
        .int()
        .optional()
        .describe("Seconds until the workspace expires and is removed (default 600)."),
      network: z.boolean().optional().describe("User-mode network egress (default off)."),
      seed_path: z
        .string()
        .optional()
        .describe("Host directory or tar archive to seed /workspace from."),
    },
    (args) =>
      manager.createWorkspace({
        environment: args.environment,
        ...(args.vcpu_count !== undefined ? { vcpuCount: args.vcpu_count } : {}),
        ...(args.mem_mib !== undefined ? { memMib: args.mem_mib } : {}),
        ...(args.ttl_seconds !== undefined ? { ttlSeconds: args.ttl_seconds } : {}),
        ...(args.network !== undefined ? { network: args.network } : {}),
        ...(args.seed_path !== undefined ? { seedPath: args.seed_path } : {}),
      }),
  );

  tool(
    "workspace_status",
    "Return one workspace's record: state, resources, seed, command count, reset count, expiry and last error.",
    { workspace_id: workspaceId },
    (args) => manager.statusWorkspace(args.workspace_id),
  );

  tool(
    "workspace_list",
    "List workspaces with their environment, state, creation and expiry times.",
    {},
    () => manager.listWorkspaces(),
  );

  tool(
    "workspace_exec",
    "Run one shell command inside /workspace of a running workspace and return stdout, stderr and exit code. Recorded in the command journal.",
    {
      workspace_id: workspaceId,
      command: z.string().describe("One shell command string, run with /bin/sh -c in /workspace."),
      timeout_seconds: z.number().int().optional().describe("Command timeout (default 30)."),
    },
    (args) =>
      manager.execWorkspace(args.workspace_id, {
        command: args.command,
        ...(args.timeout_seconds !== undefined ? { timeoutSeconds: args.timeout_seconds } : {}),
      }),
  );

  tool(
    "workspace_logs",
    "Return the persisted command history (journal) of one workspace, in sequence order.",
    { workspace_id: workspaceId },
    (args) => manager.logsWorkspace(args.workspace_id),
  );

  tool(
    "workspace_delete",
    "Stop a workspace's VM and remove all of its state.",
    { workspace_id: workspaceId },
    (args) => manager.deleteWorkspace(args.workspace_id),
  );

  tool(
    "workspace_sync_push",
    "Copy a host directory or tar archive into a running workspace (dest resolves under /workspace). The baseline is unchanged, so workspace_diff shows the push.",
    {
      workspace_id: workspaceId,
      source_path: z.string().describe("Host directory or .tar/.tar.gz/.tgz archive."),
      dest: z.string().optional().describe("Destination under /workspace (default /workspace)."),
    },
    (args) =>
      manager.pushWorkspaceSync(args.workspace_id, args.source_path, {
        ...(args.dest !== undefined ? { dest: args.dest } : {}),
      }),
  );

  tool(
    "workspace_export",
    "Export one file or directory from /workspace back to the host.",
    {
      workspace_id: workspaceId,
      path: z.string().describe("Path under /workspace, e.g. src/note.txt."),
      output_path: z
        .string()
        .describe("Host path to write; must not exist unless overwrite is true."),
      overwrite: z.boolean().optional().describe("Replace an existing output (default false)."),
    },
    (args) =>
      manager.exportWorkspace(args.workspace_id, args.path, {
        outputPath: args.output_path,
        ...(args.overwrite !== undefined ? { overwrite: args.overwrite } : {}),
      }),
  );

  tool(
    "workspace_diff",
    "Compare /workspace with the immutable create-time baseline: added, modified, deleted and type-changed paths, with unified patches for text files.",
    { workspace_id: workspaceId },
    (args) => manager.diffWorkspace(args.workspace_id),
  );

  const snapshotName = z
    .string()
    .describe("Snapshot name: letters, digits, '.', '_', '-' (max 64).");

  tool(
    "snapshot_create",
    "Create one named snapshot of the current /workspace tree, taken live (the filesystem is frozen for the instant of the snapshot).",
    { workspace_id: workspaceId, snapshot_name: snapshotName },
    (args) => manager.createSnapshot(args.workspace_id, args.snapshot_name),
  );

  tool(
    "snapshot_list",
    "List a workspace's snapshots: the implicit baseline first, then named snapshots in creation order.",
    { workspace_id: workspaceId },
    (args) => manager.listSnapshots(args.workspace_id),
  );

  tool(
    "snapshot_delete",
    "Delete one named snapshot (the baseline cannot be deleted).",
    { workspace_id: workspaceId, snapshot_name: snapshotName },
    (args) => manager.deleteSnapshot(args.workspace_id, args.snapshot_name),
  );

  tool(
    "workspace_reset",
    "Rebuild the whole sandbox from the baseline or a named snapshot instead of repairing it: new VM and root filesystem, /workspace restored, command history, shells and services cleared. The id, baseline and snapshots are kept.",
    {
      workspace_id: workspaceId,
      snapshot: z.string().optional().describe("Snapshot to restore (default: baseline)."),
    },
    (args) =>
      manager.resetWorkspace(args.workspace_id, {
        ...(args.snapshot !== undefined ? { snapshot: args.snapshot } : {}),
      }),
  );

  tool(
    "workspace_stop",
    "Save a running workspace's VM with its memory and end it (state stopped; the TTL still runs). workspace_start resumes it with its processes, shells and services; reset and delete work on it.",
    { workspace_id: workspaceId },
    (args) => manager.stopWorkspace(args.workspace_id),
  );

  tool(
    "workspace_start",
    "Resume a stopped workspace where it was: the same VM, processes, shells and services, with the clock set.",
    { workspace_id: workspaceId },
    (args) => manager.startWorkspace(args.workspace_id),
  );

  const shellId = z.string().describe("Shell id, as returned by shell_open (e.g. shell-1).");
  const serviceName = z
    .string()
    .describe("Service name: letters, digits, '.', '_', '-' (max 64), e.g. web.");

  tool(
    "shell_open",
    "Open a PTY running the login shell in a workspace (default cwd /workspace, 120x30). The shell keeps its cwd, environment and running programs across calls until shell_close, reset or delete. Returns shell_id.",
    {
      workspace_id: workspaceId,
      cwd: z
        .string()
        .optional()
        .describe("Working directory under /workspace (default /workspace)."),
      cols: z.number().int().optional().describe("Terminal columns (default 120)."),
      rows: z.number().int().optional().describe("Terminal rows (default 30)."),
    },
    (args) =>
      manager.openShell(args.workspace_id, {
        ...(args.cwd !== undefined ? { cwd: args.cwd } : {}),
        ...(args.cols !== undefined ? { cols: args.cols } : {}),
        ...(args.rows !== undefined ? { rows: args.rows } : {}),
      }),
  );

  tool(
    "shell_read",
    "Read a shell's output from an absolute cursor (default 0); pass next_cursor to the next read. truncated/truncated_chars tell how much older output the bounded buffer dropped. wait_for_idle_ms waits until output settles (max 30 s); plain strips ANSI escapes and applies \\r and backspaces.",
    {
      workspace_id: workspaceId,
      shell_id: shellId,
      cursor: z.number().int().optional().describe("Where to start reading (default 0)."),
      max_chars: z.number().int().optional().describe("Most characters to return (default 65536)."),
      wait_for_idle_ms: z
        .number()
        .int()
        .optional()
        .describe("Wait until no output (or input) for this many ms, at most 30 s in all."),
      plain: z
        .boolean()
        .optional()
        .describe("Return screen text: ANSI escapes removed, \\r and backspace applied."),
    },
    (args) =>
      manager.readShell(args.workspace_id, args.shell_id, {
        ...(args.cursor !== undefined ? { cursor: args.cursor } : {}),
        ...(args.max_chars !== undefined ? { maxChars: args.max_chars } : {}),
        ...(args.wait_for_idle_ms !== undefined ? { waitForIdleMs: args.wait_for_idle_ms } : {}),
        ...(args.plain !== undefined ? { plain: args.plain } : {}),
      }),
  );

  tool(
    "shell_write",
    "Type input into a running shell; a newline is appended unless append_newline is false. Read the result with shell_read (wait_for_idle_ms helps).",
    {
      workspace_id: workspaceId,
      shell_id: shellId,
      input: z.string().describe("Text to type, e.g. `cd src && ls`."),
      append_newline: z.boolean().optional().describe("Append a newline (default true)."),
    },
    (args) =>
      manager.writeShell(args.workspace_id, args.shell_id, {
        input: args.input,
        ...(args.append_newline !== undefined ? { appendNewline: args.append_newline } : {}),
      }),
  );

  tool(
    "shell_signal",
    "Send a signal to a shell's foreground job: INT (default, like Ctrl-C), TERM, HUP or KILL (KILL ends the whole shell).",
    {
      workspace_id: workspaceId,
      shell_id: shellId,
      signal_name: z.enum(["HUP", "INT", "TERM", "KILL"]).optional().describe("Default INT."),
    },
    (args) =>
      manager.signalShell(args.workspace_id, args.shell_id, {
        ...(args.signal_name !== undefined ? { signalName: args.signal_name } : {}),
      }),
  );

  tool(
    "shell_resize",
    "Resize a shell's terminal (programs get SIGWINCH and see the new size, e.g. in `stty size`).",
    {
      workspace_id: workspaceId,
      shell_id: shellId,
      cols: z.number().int().describe("Columns, 1 to 1000."),
      rows: z.number().int().describe("Rows, 1 to 1000."),
    },
    (args) =>
      manager.resizeShell(args.workspace_id, args.shell_id, { cols: args.cols, rows: args.rows }),
  );

  tool(
    "shell_close",
    "Close a shell: hang up its terminal (KILL after a second) and forget it and its output.",
    { workspace_id: workspaceId, shell_id: shellId },
    (args) => manager.closeShell(args.workspace_id, args.shell_id),
  );

  tool(
    "shell_list",
    "List a workspace's shells (running, and stopped ones not closed yet) with cwd, size and state.",
    { workspace_id: workspaceId },
    (args) => manager.listShells(args.workspace_id),
  );

  tool(
    "service_start",
    'Start a named background service (one shell command) and wait for its readiness probe; a probe that times out or a process that exits first is an error with the reason and the log tail. Example readiness: {"type":"tcp","address":"127.0.0.1:8080"}.',
    {
      workspace_id: workspaceId,
      service_name: serviceName,
      command: z.string().describe("One shell command string, run with /bin/sh -c."),
      cwd: z
        .string()
        .optional()
        .describe("Working directory under /workspace (default /workspace)."),
      readiness: z
        .union([
          z.object({ type: z.literal("file"), path: z.string() }),
          z.object({ type: z.literal("tcp"), address: z.string() }),
          z.object({ type: z.literal("http"), url: z.string() }),
          z.object({ type: z.literal("command"), command: z.string() }),
        ])
        .optional()
        .describe(
          "Probe: file (path relative to cwd, under /workspace), tcp (HOST:PORT), http (http:// URL, 2xx/3xx), or command (exit 0). Without one, the service is running once it survived one interval.",
        ),
      ready_timeout_seconds: z.number().int().optional().describe("Probe deadline (default 30)."),
      ready_interval_ms: z.number().int().optional().describe("Probe interval (default 500)."),
    },
    (args) =>
      manager.startService(args.workspace_id, args.service_name, {
        command: args.command,
        ...(args.cwd !== undefined ? { cwd: args.cwd } : {}),
        ...(args.readiness !== undefined ? { readiness: args.readiness } : {}),
        ...(args.ready_timeout_seconds !== undefined
          ? { readyTimeoutSeconds: args.ready_timeout_seconds }
          : {}),
        ...(args.ready_interval_ms !== undefined
          ? { readyIntervalMs: args.ready_interval_ms }
          : {}),
      }),
  );

  tool(
    "service_list",
    "List a workspace's services with their states; count and running_count summarize them.",
    { workspace_id: workspaceId },
    (args) => manager.listServices(args.workspace_id),
  );

  tool(
    "service_status",
    "Return one service's record: state (starting, running, exited, stopped, failed), pid, ready_at, exit_code, stop_reason, failure_reason.",
    { workspace_id: workspaceId, service_name: serviceName },
    (args) => manager.statusService(args.workspace_id, args.service_name),
  );

  tool(
    "service_logs",
    "Return a service's stdout and stderr, kept apart: the last tail_lines lines (default 200), or everything held with all.",
    {
      workspace_id: workspaceId,
      service_name: serviceName,
      tail_lines: z.number().int().optional().describe("Lines per stream (default 200)."),
      all: z.boolean().optional().describe("Return every line held (default false)."),
    },
    (args) =>
      manager.logsService(args.workspace_id, args.service_name, {
        ...(args.tail_lines !== undefined ? { tailLines: args.tail_lines } : {}),
        ...(args.all !== undefined ? { all: args.all } : {}),
      }),
  );

  tool(
    "service_stop",
    "Stop a service: TERM to its process group, KILL after a 5 s grace period; stop_reason records which.",
    { workspace_id: workspaceId, service_name: serviceName },
    (args) => manager.stopService(args.workspace_id, args.service_name),
  );

  return server;
}

async function respond(
  run: () => Promise<object>,
  params: readonly string[],
): Promise<CallToolResult> {
  try {
    const payload = await run();
    return {
      content: [{ type: "text", text: JSON.stringify(payload, null, 2) }],
      structuredContent: payload as Record<string, unknown>,
    };
  } catch (error) {
    const typed = mcpError(toPyroError(error), params);
    const text = [`${typed.code}: ${typed.message}`, typed.hint ? `hint: ${typed.hint}` : ""]
      .filter(Boolean)
      .join("\n");
    return {
      isError: true,
      content: [{ type: "text", text }],
      structuredContent: { error: typed.toJSON() },
    };
  }
}

/** CLI flags whose MCP parameter is not simply the flag in snake_case. */
const FLAG_PARAMS: Readonly<Record<string, string>> = {
  "--output": "output_path",
  "--signal": "signal_name",
  "--no-newline": "append_newline",
  "--ready-file": "readiness",
  "--ready-tcp": "readiness",
  "--ready-http": "readiness",
  "--ready-command": "readiness",
};

/**
 * Error texts are written for the CLI and name its flags; an MCP client knows the tool's
 * parameters instead. "--mem-mib / mem_mib" becomes "mem_mib", and a lone flag becomes the
 * parameter it stands for when this tool has one. Other wording (e.g. `pyro ...` commands in
 * hints) is left as it is until the surfaces are generated from one declaration.
 */
export function mcpWording(text: string, params: readonly string[]): string {
  return text.replace(/--[a-z][a-z-]* \/ ([a-z_.]+)/g, "$1").replace(/--[a-z][a-z-]*/g, (flag) => {
    const param = FLAG_PARAMS[flag] ?? flag.slice(2).replace(/-/g, "_");
    return params.includes(param) ? param : flag;
  });
}

function mcpError(error: PyroError, params: readonly string[]): PyroError {
  const message = mcpWording(error.message, params);
  const hint = error.hint === undefined ? undefined : mcpWording(error.hint, params);
  if (message === error.message && hint === error.hint) return error;
  return new PyroError(error.code, message, {
    ...(hint !== undefined ? { hint } : {}),
    ...(error.details !== undefined ? { details: error.details } : {}),
    cause: error,
  });
}
