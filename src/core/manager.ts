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
import { startWorkspace, stopWorkspace } from "./workspace/stop-start.js";
import {
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
  type SnapshotListPayload,
  type SnapshotPayload,
} from "./workspace/snapshots.js";
import {
  closeShell,
  listShells,
  openShell,
  readShell,
  resizeShell,
  signalShell,
  writeShell,
  type OpenShellOptions,
  type ReadShellOptions,
  type ShellListPayload,
  type ShellReadPayload,
  type ShellRecord,
} from "./workspace/shells.js";
import {
  listServices,
  logsService,
  startService,
  statusService,
  stopService,
  type ServiceListPayload,
  type ServiceLogsPayload,
  type ServiceRecord,
  type StartServiceOptions,
} from "./workspace/services.js";
import type { SignalName } from "../protocol/messages.js";

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

  /** Save the running VM with its memory and end it; `startWorkspace` resumes it. */
  stopWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return stopWorkspace(this.paths, workspaceId);
  }

  startWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return startWorkspace(this.paths, workspaceId);
  }

  openShell(workspaceId: string, options: OpenShellOptions = {}): Promise<ShellRecord> {
    return openShell(this.paths, workspaceId, options);
  }

  readShell(
    workspaceId: string,
    shellId: string,
    options: ReadShellOptions = {},
  ): Promise<ShellReadPayload> {
    return readShell(this.paths, workspaceId, shellId, options);
  }

  writeShell(
    workspaceId: string,
    shellId: string,
    options: { input: string; appendNewline?: boolean },
  ): Promise<ShellRecord & { input_chars: number }> {
    return writeShell(this.paths, workspaceId, shellId, options);
  }

  signalShell(
    workspaceId: string,
    shellId: string,
    options: { signalName?: SignalName } = {},
  ): Promise<ShellRecord & { signal: SignalName }> {
    return signalShell(this.paths, workspaceId, shellId, options);
  }

  resizeShell(
    workspaceId: string,
    shellId: string,
    options: { cols: number; rows: number },
  ): Promise<ShellRecord> {
    return resizeShell(this.paths, workspaceId, shellId, options);
  }

  closeShell(workspaceId: string, shellId: string): Promise<ShellRecord & { closed: true }> {
    return closeShell(this.paths, workspaceId, shellId);
  }

  listShells(workspaceId: string): Promise<ShellListPayload> {
    return listShells(this.paths, workspaceId);
  }

  startService(
    workspaceId: string,
    serviceName: string,
    options: StartServiceOptions,
  ): Promise<ServiceRecord> {
    return startService(this.paths, workspaceId, serviceName, options);
  }

  listServices(workspaceId: string): Promise<ServiceListPayload> {
    return listServices(this.paths, workspaceId);
  }

  statusService(workspaceId: string, serviceName: string): Promise<ServiceRecord> {
    return statusService(this.paths, workspaceId, serviceName);
  }

  logsService(
    workspaceId: string,
    serviceName: string,
    options: { tailLines?: number; all?: boolean } = {},
  ): Promise<ServiceLogsPayload> {
    return logsService(this.paths, workspaceId, serviceName, options);
  }

  stopService(workspaceId: string, serviceName: string): Promise<ServiceRecord> {
    return stopService(this.paths, workspaceId, serviceName);
  }
}
