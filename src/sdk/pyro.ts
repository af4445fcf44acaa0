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

  /** An MCP server exposing this SDK's manager as tools; connect it to any transport. */
  createServer(): McpServer {
    return createServer(this.manager);
  }
}
