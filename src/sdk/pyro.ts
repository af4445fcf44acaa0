import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WorkspaceManager, type ManagerOptions } from "../core/manager.js";
import type { DoctorPayload } from "../core/doctor.js";
import type {
  EnvironmentInspectPayload,
  EnvironmentListPayload,
  EnvironmentPrunePayload,
  EnvironmentPullPayload,
} from "../core/environments.js";
import type { RunOptions, RunPayload } from "../core/run.js";
import type { ProgressListener } from "../environments/build.js";
import { createServer } from "../mcp/server.js";
import type { DiffPayload } from "../core/workspace/diff.js";
import type { ExecWorkspacePayload, LogsPayload } from "../core/workspace/exec.js";
import type { ExportPayload } from "../core/workspace/export.js";
import type {
  CreateWorkspaceOptions,
  DeletePayload,
  WorkspaceListPayload,
} from "../core/workspace/lifecycle.js";
import type { WorkspaceRecord } from "../core/workspace/record.js";
import type { SyncPushPayload } from "../core/workspace/sync.js";
import type { SnapshotListPayload, SnapshotPayload } from "../core/workspace/snapshots.js";
import type {
  OpenShellOptions,
  ReadShellOptions,
  ShellListPayload,
  ShellReadPayload,
  ShellRecord,
} from "../core/workspace/shells.js";
import type {
  ServiceListPayload,
  ServiceLogsPayload,
  ServiceRecord,
  StartServiceOptions,
} from "../core/workspace/services.js";
import type { SignalName } from "../protocol/messages.js";

export type PyroOptions = ManagerOptions;
export type RunInVmOptions = RunOptions;

/**
 * The TypeScript SDK. Methods return the same JSON payloads the CLI prints with `--json` and the
 * MCP tools return; failures throw `PyroError` with a stable `code` and a `hint`.
 *
 *   const pyro = new Pyro();
 *   const result = await pyro.runInVm({ environment: "debian:12", command: "git --version" });
 */
export class Pyro {
  readonly manager: WorkspaceManager;

  constructor(options: PyroOptions = {}) {
    this.manager = new WorkspaceManager(options);
  }

  doctor(): Promise<DoctorPayload> {
    return this.manager.doctor();
  }

  listEnvironments(): Promise<EnvironmentListPayload> {
    return this.manager.listEnvironments();
  }

  pullEnvironment(
    environment: string,
    options: { onProgress?: ProgressListener } = {},
  ): Promise<EnvironmentPullPayload> {
    return this.manager.pullEnvironment(environment, options.onProgress);
  }

  inspectEnvironment(environment: string): Promise<EnvironmentInspectPayload> {
    return this.manager.inspectEnvironment(environment);
  }

  pruneEnvironments(): Promise<EnvironmentPrunePayload> {
    return this.manager.pruneEnvironments();
  }

  runInVm(options: RunInVmOptions): Promise<RunPayload> {
    return this.manager.runInVm(options);
  }

  /** Create and start a persistent workspace, optionally seeded from a directory or archive. */
  createWorkspace(options: CreateWorkspaceOptions): Promise<WorkspaceRecord> {
    return this.manager.createWorkspace(options);
  }

  statusWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return this.manager.statusWorkspace(workspaceId);
  }

  listWorkspaces(): Promise<WorkspaceListPayload> {
    return this.manager.listWorkspaces();
  }

  /** Run one shell command in /workspace; recorded in the workspace's command journal. */
  execWorkspace(
    workspaceId: string,
    options: {
      command: string;
      timeoutSeconds?: number;
      onStdout?: (chunk: Buffer) => void;
      onStderr?: (chunk: Buffer) => void;
    },
  ): Promise<ExecWorkspacePayload> {
    return this.manager.execWorkspace(workspaceId, options);
  }

  logsWorkspace(workspaceId: string): Promise<LogsPayload> {
    return this.manager.logsWorkspace(workspaceId);
  }

  deleteWorkspace(workspaceId: string): Promise<DeletePayload> {
    return this.manager.deleteWorkspace(workspaceId);
  }

  /** Copy a host directory or archive into the running workspace (relative dest resolves under /workspace). */
  pushWorkspaceSync(
    workspaceId: string,
    sourcePath: string,
    options: { dest?: string } = {},
  ): Promise<SyncPushPayload> {
    return this.manager.pushWorkspaceSync(workspaceId, sourcePath, options);
  }

  /** Copy one file or directory from /workspace to the host. */
  exportWorkspace(
    workspaceId: string,
    path: string,
    options: { outputPath: string; overwrite?: boolean },
  ): Promise<ExportPayload> {
    return this.manager.exportWorkspace(workspaceId, path, options);
  }

  /** Compare /workspace with the immutable create-time baseline. */
  diffWorkspace(workspaceId: string): Promise<DiffPayload> {
    return this.manager.diffWorkspace(workspaceId);
  }

  /** Take a named snapshot of the live /workspace (a disk-level snapshot: cost does not grow with size). */
  createSnapshot(workspaceId: string, snapshotName: string): Promise<SnapshotPayload> {
    return this.manager.createSnapshot(workspaceId, snapshotName);
  }

  /** The implicit `baseline` first, then named snapshots in creation order. */
  listSnapshots(workspaceId: string): Promise<SnapshotListPayload> {
    return this.manager.listSnapshots(workspaceId);
  }

  deleteSnapshot(workspaceId: string, snapshotName: string): Promise<SnapshotPayload> {
    return this.manager.deleteSnapshot(workspaceId, snapshotName);
  }

  /**
   * Rebuild the whole sandbox from the baseline (default) or a named snapshot. Clears history,
   * shells and services; keeps the id, the baseline and every snapshot.
   */
  resetWorkspace(
    workspaceId: string,
    options: { snapshot?: string } = {},
  ): Promise<WorkspaceRecord> {
    return this.manager.resetWorkspace(workspaceId, options);
  }
  /** Save the running VM with its memory and end it; the workspace is listed as `stopped`. */
  stopWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return this.manager.stopWorkspace(workspaceId);
  }

  /** Resume a stopped workspace: its processes, shells and services go on where they were. */
  startWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return this.manager.startWorkspace(workspaceId);
  }

  /**
   * Open a PTY running the login shell (default cwd /workspace, 120x30). It keeps its cwd, env and
   * running programs across calls until closed, reset or deleted. Returns the `shell_id`.
   */
  openShell(workspaceId: string, options: OpenShellOptions = {}): Promise<ShellRecord> {
    return this.manager.openShell(workspaceId, options);
  }

  /**
   * Read output from `cursor` (default 0); pass `next_cursor` to the next read. `waitForIdleMs`
   * waits for output to settle; `plain` gives screen text without ANSI escapes.
   */
  readShell(
    workspaceId: string,
    shellId: string,
    options: ReadShellOptions = {},
  ): Promise<ShellReadPayload> {
    return this.manager.readShell(workspaceId, shellId, options);
  }

  /** Type `input` into the shell; a newline is appended unless `appendNewline` is false. */
  writeShell(
    workspaceId: string,
    shellId: string,
    options: { input: string; appendNewline?: boolean },
  ): Promise<ShellRecord & { input_chars: number }> {
    return this.manager.writeShell(workspaceId, shellId, options);
  }

  /** Send HUP, INT (default, like Ctrl-C), TERM or KILL to the shell's foreground job. */
  signalShell(
    workspaceId: string,
    shellId: string,
    options: { signalName?: SignalName } = {},
  ): Promise<ShellRecord & { signal: SignalName }> {
    return this.manager.signalShell(workspaceId, shellId, options);
  }

  resizeShell(
    workspaceId: string,
    shellId: string,
    options: { cols: number; rows: number },
  ): Promise<ShellRecord> {
    return this.manager.resizeShell(workspaceId, shellId, options);
  }

  closeShell(workspaceId: string, shellId: string): Promise<ShellRecord & { closed: true }> {
    return this.manager.closeShell(workspaceId, shellId);
  }

  listShells(workspaceId: string): Promise<ShellListPayload> {
    return this.manager.listShells(workspaceId);
  }

  /**
   * Start a named background service and wait for its readiness probe, e.g.
   * `{ command: "...", readiness: { type: "tcp", address: "127.0.0.1:8080" } }`. A probe that times
   * out or a process that exits first throws SERVICE_FAILED with the log tail.
   */
  startService(
    workspaceId: string,
    serviceName: string,
    options: StartServiceOptions,
  ): Promise<ServiceRecord> {
    return this.manager.startService(workspaceId, serviceName, options);
  }

  listServices(workspaceId: string): Promise<ServiceListPayload> {
    return this.manager.listServices(workspaceId);
  }

  statusService(workspaceId: string, serviceName: string): Promise<ServiceRecord> {
    return this.manager.statusService(workspaceId, serviceName);
  }

  /** stdout and stderr, kept apart: the last `tailLines` (default 200) lines, or `all`. */
  logsService(
    workspaceId: string,
    serviceName: string,
    options: { tailLines?: number; all?: boolean } = {},
  ): Promise<ServiceLogsPayload> {
    return this.manager.logsService(workspaceId, serviceName, options);
  }

  /** TERM, then KILL after a 5 s grace period; `stop_reason` records which ended it. */
  stopService(workspaceId: string, serviceName: string): Promise<ServiceRecord> {
    return this.manager.stopService(workspaceId, serviceName);
  }

  /** An MCP server exposing this SDK's manager as tools; connect it to any transport. */
  createServer(): McpServer {
    return createServer(this.manager);
  }
}
