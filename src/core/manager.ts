import type { ProgressListener } from "../environments/build.js";
import { doctor, type DoctorPayload } from "./doctor.js";
import {
  inspectEnvironment,
  listEnvironments,
  pruneEnvironments,
  pullEnvironment,
  type EnvironmentInspectPayload,
  type EnvironmentListPayload,
  type EnvironmentPrunePayload,
  type EnvironmentPullPayload,
} from "./environments.js";
import { resolvePaths, type PyroPaths } from "./paths.js";
import { runInVm, type RunOptions, type RunPayload } from "./run.js";
import { diffWorkspace, type DiffPayload } from "./workspace/diff.js";
import {
  execWorkspace,
  logsWorkspace,
  type ExecWorkspaceOptions,
  type ExecWorkspacePayload,
  type LogsPayload,
} from "./workspace/exec.js";
import { exportWorkspace, type ExportPayload } from "./workspace/export.js";
import {
  createWorkspace,
  deleteWorkspace,
  listWorkspaces,
  statusWorkspace,
  type CreateWorkspaceOptions,
  type DeletePayload,
  type WorkspaceListPayload,
} from "./workspace/lifecycle.js";
import type { WorkspaceRecord } from "./workspace/record.js";
import { pushWorkspaceSync, type SyncPushPayload } from "./workspace/sync.js";
import { resetWorkspace } from "./workspace/reset.js";
import {
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
  type SnapshotListPayload,
  type SnapshotPayload,
} from "./workspace/snapshots.js";

export interface ManagerOptions {
  /** Root for all state and caches (default: $PYRO_HOME, else the XDG directories). */
  home?: string;
}

/**
 * The one place where pyro does things. The CLI, the SDK and the MCP server each parse their
 * input, call one method here and format the result; none of them has logic of its own.
 */
export class WorkspaceManager {
  readonly paths: PyroPaths;

  constructor(options: ManagerOptions = {}) {
    this.paths = resolvePaths(options.home);
  }

  doctor(): Promise<DoctorPayload> {
    return doctor(this.paths);
  }

  listEnvironments(): Promise<EnvironmentListPayload> {
    return listEnvironments(this.paths);
  }

  pullEnvironment(name: string, onProgress?: ProgressListener): Promise<EnvironmentPullPayload> {
    return pullEnvironment(this.paths, name, onProgress);
  }

  inspectEnvironment(name: string): Promise<EnvironmentInspectPayload> {
    return inspectEnvironment(this.paths, name);
  }

  pruneEnvironments(): Promise<EnvironmentPrunePayload> {
    return pruneEnvironments(this.paths);
  }

  runInVm(options: RunOptions): Promise<RunPayload> {
    return runInVm(this.paths, options);
  }

  createWorkspace(options: CreateWorkspaceOptions): Promise<WorkspaceRecord> {
    return createWorkspace(this.paths, options);
  }

  statusWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return statusWorkspace(this.paths, workspaceId);
  }

  listWorkspaces(): Promise<WorkspaceListPayload> {
    return listWorkspaces(this.paths);
  }

  execWorkspace(workspaceId: string, options: ExecWorkspaceOptions): Promise<ExecWorkspacePayload> {
    return execWorkspace(this.paths, workspaceId, options);
  }

  logsWorkspace(workspaceId: string): Promise<LogsPayload> {
    return logsWorkspace(this.paths, workspaceId);
  }

  deleteWorkspace(workspaceId: string): Promise<DeletePayload> {
    return deleteWorkspace(this.paths, workspaceId);
  }

  pushWorkspaceSync(
    workspaceId: string,
    sourcePath: string,
    options: { dest?: string } = {},
  ): Promise<SyncPushPayload> {
    return pushWorkspaceSync(this.paths, workspaceId, sourcePath, options);
  }

  exportWorkspace(
    workspaceId: string,
    path: string,
    options: { outputPath: string; overwrite?: boolean },
  ): Promise<ExportPayload> {
    return exportWorkspace(this.paths, workspaceId, path, options);
  }

  diffWorkspace(workspaceId: string): Promise<DiffPayload> {
    return diffWorkspace(this.paths, workspaceId);
  }

  createSnapshot(workspaceId: string, snapshotName: string): Promise<SnapshotPayload> {
    return createSnapshot(this.paths, workspaceId, snapshotName);
  }

  listSnapshots(workspaceId: string): Promise<SnapshotListPayload> {
    return listSnapshots(this.paths, workspaceId);
  }

  deleteSnapshot(workspaceId: string, snapshotName: string): Promise<SnapshotPayload> {
    return deleteSnapshot(this.paths, workspaceId, snapshotName);
  }

  resetWorkspace(
    workspaceId: string,
    options: { snapshot?: string } = {},
  ): Promise<WorkspaceRecord> {
    return resetWorkspace(this.paths, workspaceId, options);
  }
}
