import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { WorkspaceManager } from "../core/manager.js";
import { toPyroError } from "../core/errors.js";
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
    ) => respond(() => run(args))) as never);
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

  return server;
}

async function respond(run: () => Promise<object>): Promise<CallToolResult> {
  try {
    const payload = await run();
    return {
      content: [{ type: "text", text: JSON.stringify(payload, null, 2) }],
      structuredContent: payload as Record<string, unknown>,
    };
  } catch (error) {
    const typed = toPyroError(error);
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
