import type { ProgressListener } from "../environments/build.js";
import type { PullImageOptions } from "../environments/oci/pull.js";
import { doctor, type DoctorPayload } from "./doctor.js";
import {
  inspectEnvironment,
  listEnvironments,
  pruneEnvironments,
  pullEnvironment,
  buildLocalEnvironment,
  type EnvironmentBuildOptions,
  type EnvironmentBuildPayload,
  type EnvironmentInspectPayload,
  type EnvironmentListPayload,
  type EnvironmentPrunePayload,
  type EnvironmentPullPayload,
} from "./environments.js";
import { PyroError } from "./errors.js";
import { resolvePaths, type PyroPaths } from "./paths.js";
import { runInVm, type RunPayload } from "./run.js";
import { RunRegistry, type RunStartOptions } from "./run-registry.js";
import { diffWorkspace, type DiffPayload } from "./workspace/diff.js";
import {
  execWorkspace,
  logsWorkspace,
  type ExecWorkspaceOptions,
  type ExecWorkspacePayload,
  type LogsPayload,
  type LogsOptions,
} from "./workspace/exec.js";
import { exportWorkspace, type ExportPayload } from "./workspace/export.js";
import {
  listWorkspaceFiles,
  readWorkspaceFile,
  writeWorkspaceFile,
  type FileListPayload,
  type FileReadPayload,
  type FileWritePayload,
} from "./workspace/files.js";
import { applyWorkspacePatch, type PatchPayload } from "./workspace/patch.js";
import { summarizeWorkspace, type SummaryPayload } from "./workspace/summary.js";
import {
  exportWorkspaceDisk,
  listWorkspaceDisk,
  readWorkspaceDisk,
  type DiskExportPayload,
  type DiskListPayload,
  type DiskReadPayload,
} from "./workspace/disk.js";
import {
  createWorkspace,
  deleteWorkspace,
  listWorkspaces,
  statusWorkspace,
  type CreateWorkspaceOptions,
  type DeletePayload,
  type WorkspaceListPayload,
} from "./workspace/lifecycle.js";
import { readRecord, type WorkspaceRecord } from "./workspace/record.js";
import { prepareIdentity, type WorkspaceIdentityOptions } from "./workspace/identity.js";
import {
  checkLabels,
  ensureNameFree,
  matchesLabels,
  updateWorkspace,
  type UpdateWorkspaceOptions,
} from "./workspace/names.js";
import { redactDeep } from "./workspace/redact.js";
import { bindWorkspaceRefs } from "./workspace/refs.js";
import { redactionValues, secretEnv } from "./workspace/secrets.js";
import { pushWorkspaceSync, type SyncPushPayload } from "./workspace/sync.js";
import { resetWorkspace } from "./workspace/reset.js";
import { workspaceNetworkInfo, type WorkspaceNetworkPayload } from "./network/info.js";
import { forkWorkspace, type ForkOptions, type ForkPayload } from "./workspace/fork.js";
import { startWorkspace, stopWorkspace } from "./workspace/stop-start.js";
import {
  createSnapshot,
  BASELINE_SNAPSHOT,
  deleteSnapshot,
  listSnapshots,
  type SnapshotKind,
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
import {
  createHostCompatWorkspace,
  execHostCompat,
  guestBootBlocker,
  isHostCompatWorkspace,
  requireGuest,
  runOnHostCompat,
  useHostCompat,
} from "./host-compat.js";
import {
  createVmRecord,
  readVm,
  remainingTtl,
  removeVmRecord,
  vmIds,
  withVmLock,
  writeVm,
  type CreateVmOptions,
  type VmRecord,
} from "./vm.js";
import { reapExpired as reapExpiredWorkspaces } from "./workspace/lifecycle.js";

type HostCompatOption = { allowHostCompat?: boolean };

export interface DoctorWithHostCompat extends DoctorPayload {
  host_compat: {
    /** Can this host boot a guest? When not, run/create need --allow-host-compat. */
    guest_boot: boolean;
    reason: string | null;
    /** What host_compat mode gives: no isolation at all. */
    isolation: "none";
  };
}

export type VmStatusPayload = Omit<VmRecord, "schema_version" | "state"> & {
  state: VmRecord["state"] | "crashed";
  execution_mode: "guest_agent" | "host_compat";
  accelerator: string | null;
  last_error: string | null;
};

export type VmExecPayload = Omit<ExecWorkspacePayload, "workspace_id"> & {
  vm_id: string;
  /** exec deletes the VM afterwards, as the original's exec_vm does. */
  deleted: true;
};

export interface VmNetworkPayload {
  vm_id: string;
  network: boolean;
  /** QEMU user-mode networking (slirp): outbound only, nothing listens on the host. */
  mode: "user" | "none" | "host";
  guest_ip: string | null;
  gateway: string | null;
  dns: string | null;
}

export interface ReapPayload {
  count: number;
  vms: string[];
  workspaces: string[];
}

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
  private readonly runs = new RunRegistry();

  constructor(options: ManagerOptions = {}) {
    this.paths = resolvePaths(options.home);
    // Every method that takes a workspace also takes its name, and redacts its secrets.
    bindWorkspaceRefs(this, this.paths);
  }

  async doctor(): Promise<DoctorWithHostCompat> {
    const report = await doctor(this.paths);
    const blocker = guestBootBlocker();
    if (blocker !== undefined) {
      // Whatever the probes found, pyro will not boot a guest here: say so everywhere.
      report.capabilities = { vm_boot: false, guest_exec: false, guest_network: false };
      report.runtime = "FAIL";
    }
    return {
      ...report,
      host_compat: {
        guest_boot: blocker === undefined,
        reason: blocker ?? null,
        isolation: "none",
      },
    };
  }

  listEnvironments(): Promise<EnvironmentListPayload> {
    return listEnvironments(this.paths);
  }

  pullEnvironment(
    name: string,
    onProgress?: ProgressListener,
    options?: PullImageOptions,
  ): Promise<EnvironmentPullPayload> {
    return pullEnvironment(this.paths, name, onProgress, options);
  }

  buildEnvironment(options: EnvironmentBuildOptions): Promise<EnvironmentBuildPayload> {
    return buildLocalEnvironment(this.paths, options);
  }

  inspectEnvironment(name: string): Promise<EnvironmentInspectPayload> {
    return inspectEnvironment(this.paths, name);
  }

  pruneEnvironments(): Promise<EnvironmentPrunePayload> {
    return pruneEnvironments(this.paths);
  }

  /** One command in a fresh VM; on a host that cannot boot one, on the host if allowed. */
  async runInVm(options: RunStartOptions & HostCompatOption): Promise<RunPayload> {
    const { allowHostCompat, ...rest } = options;
    return this.runs.start(rest, (run) =>
      useHostCompat(allowHostCompat) ? runOnHostCompat(this.paths, run) : runInVm(this.paths, run),
    );
  }

  /** A run that returned state "running": its end, or its state after waitSeconds. */
  waitRun(runId: string, options: { waitSeconds?: number } = {}): Promise<RunPayload> {
    return this.runs.wait(runId, options.waitSeconds);
  }

  async createWorkspace(
    options: Omit<CreateWorkspaceOptions, "identity"> & HostCompatOption & WorkspaceIdentityOptions,
  ): Promise<WorkspaceRecord> {
    const { allowHostCompat, name, labels, secrets, ...rest } = options;
    const identity = await prepareIdentity({ name, labels, secrets });
    // Early, to fail before building anything; create checks again under the names lock.
    if (identity.name !== null) await ensureNameFree(this.paths, identity.name);
    if (!useHostCompat(allowHostCompat)) {
      return redactDeep(
        await createWorkspace(this.paths, { ...rest, identity }),
        redactionValues(identity.secrets),
      );
    }
    if (identity.secrets.length > 0) {
      throw new PyroError("HOST_COMPAT_UNSUPPORTED", "secrets need a guest", {
        hint: "Secrets live in the guest's memory; create the workspace on a host that can boot a guest.",
      });
    }
    const record = await createHostCompatWorkspace(this.paths, rest);
    if (identity.name === null && Object.keys(identity.labels).length === 0) return record;
    return updateWorkspace(this.paths, record.workspace_id, {
      ...(identity.name !== null ? { name: identity.name } : {}),
      labels: identity.labels,
    });
  }

  /** Rename or relabel a workspace (names stay unique). */
  updateWorkspace(workspaceId: string, options: UpdateWorkspaceOptions): Promise<WorkspaceRecord> {
    return updateWorkspace(this.paths, workspaceId, options);
  }

  async statusWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    // A host_compat workspace has no VM to check; its record is its state.
    if (await isHostCompatWorkspace(this.paths, workspaceId)) {
      return await readRecord(this.paths, workspaceId);
    }
    return statusWorkspace(this.paths, workspaceId);
  }

  async listWorkspaces(
    options: { labels?: Record<string, string> } = {},
  ): Promise<WorkspaceListPayload> {
    const list = await listWorkspaces(this.paths);
    if (options.labels) {
      const wanted = checkLabels(options.labels);
      list.workspaces = list.workspaces.filter((w) => matchesLabels(w, wanted));
      list.count = list.workspaces.length;
    }
    for (const entry of list.workspaces) {
      if (
        entry.state === "crashed" &&
        (await isHostCompatWorkspace(this.paths, entry.workspace_id).catch(() => false))
      ) {
        entry.state = "started";
      }
    }
    return list;
  }

  async execWorkspace(
    workspaceId: string,
    options: ExecWorkspaceOptions,
  ): Promise<ExecWorkspacePayload> {
    if (await isHostCompatWorkspace(this.paths, workspaceId)) secretEnv([], options.secretEnv);
    return (await isHostCompatWorkspace(this.paths, workspaceId))
      ? execHostCompat(this.paths, workspaceId, options)
      : execWorkspace(this.paths, workspaceId, options);
  }

  logsWorkspace(workspaceId: string, options: LogsOptions = {}): Promise<LogsPayload> {
    return logsWorkspace(this.paths, workspaceId, options);
  }

  deleteWorkspace(workspaceId: string): Promise<DeletePayload> {
    return deleteWorkspace(this.paths, workspaceId);
  }

  pushWorkspaceSync(
    workspaceId: string,
    sourcePath: string,
    options: { dest?: string } = {},
  ): Promise<SyncPushPayload> {
    return this.guestOnly(workspaceId, "pushWorkspaceSync", () =>
      pushWorkspaceSync(this.paths, workspaceId, sourcePath, options),
    );
  }

  exportWorkspace(
    workspaceId: string,
    path: string,
    options: { outputPath: string; overwrite?: boolean },
  ): Promise<ExportPayload> {
    return this.guestOnly(workspaceId, "exportWorkspace", () =>
      exportWorkspace(this.paths, workspaceId, path, options),
    );
  }

  /** Offline: list /workspace of a stopped or crashed workspace (or a snapshot) from its disk. */
  listWorkspaceDisk(
    workspaceId: string,
    options: { path?: string; recursive?: boolean; snapshot?: string } = {},
  ): Promise<DiskListPayload> {
    return listWorkspaceDisk(this.paths, workspaceId, options);
  }

  /** Offline: the first bytes of one file of a stopped workspace's disk. */
  readWorkspaceDisk(
    workspaceId: string,
    path: string,
    options: { maxBytes?: number; snapshot?: string } = {},
  ): Promise<DiskReadPayload> {
    return readWorkspaceDisk(this.paths, workspaceId, path, options);
  }

  /** Offline: export a path of a stopped workspace's disk with the checks of `export`. */
  exportWorkspaceDisk(
    workspaceId: string,
    options: { outputPath: string; path?: string; overwrite?: boolean; snapshot?: string },
  ): Promise<DiskExportPayload> {
    return exportWorkspaceDisk(this.paths, workspaceId, options.path ?? "/workspace", options);
  }

  listWorkspaceFiles(
    workspaceId: string,
    options: { path?: string; recursive?: boolean; maxEntries?: number } = {},
  ): Promise<FileListPayload> {
    return this.guestOnly(workspaceId, "listWorkspaceFiles", () =>
      listWorkspaceFiles(this.paths, workspaceId, options),
    );
  }

  readWorkspaceFile(
    workspaceId: string,
    path: string,
    options: { maxBytes?: number; offset?: number; startLine?: number; endLine?: number } = {},
  ): Promise<FileReadPayload> {
    return this.guestOnly(workspaceId, "readWorkspaceFile", () =>
      readWorkspaceFile(this.paths, workspaceId, path, options),
    );
  }

  writeWorkspaceFile(
    workspaceId: string,
    path: string,
    options: { text: string },
  ): Promise<FileWritePayload> {
    return this.guestOnly(workspaceId, "writeWorkspaceFile", () =>
      writeWorkspaceFile(this.paths, workspaceId, path, options),
    );
  }

  applyWorkspacePatch(workspaceId: string, options: { patch: string }): Promise<PatchPayload> {
    return this.guestOnly(workspaceId, "applyWorkspacePatch", () =>
      applyWorkspacePatch(this.paths, workspaceId, options),
    );
  }

  /** What the workspace is and what happened in it, bounded (src/core/workspace/summary.ts). */
  summarizeWorkspace(workspaceId: string): Promise<SummaryPayload> {
    return summarizeWorkspace(this, workspaceId);
  }

  diffWorkspace(
    workspaceId: string,
    options: { include?: string[]; exclude?: string[]; snapshot?: string } = {},
  ): Promise<DiffPayload> {
    return this.guestOnly(workspaceId, "diffWorkspace", () =>
      diffWorkspace(this.paths, workspaceId, options),
    );
  }

  createSnapshot(
    workspaceId: string,
    snapshotName: string,
    options: { kind?: SnapshotKind } = {},
  ): Promise<SnapshotPayload> {
    return this.guestOnly(workspaceId, "createSnapshot", () =>
      createSnapshot(this.paths, workspaceId, snapshotName, options),
    );
  }

  listSnapshots(workspaceId: string): Promise<SnapshotListPayload> {
    return this.guestOnly(workspaceId, "listSnapshots", () =>
      listSnapshots(this.paths, workspaceId),
    );
  }

  deleteSnapshot(workspaceId: string, snapshotName: string): Promise<SnapshotPayload> {
    return this.guestOnly(workspaceId, "deleteSnapshot", () =>
      deleteSnapshot(this.paths, workspaceId, snapshotName),
    );
  }

  /** Reset; the result names the snapshot it restored (`restored_snapshot`). */
  async resetWorkspace(
    workspaceId: string,
    options: { snapshot?: string } = {},
  ): Promise<WorkspaceRecord & { restored_snapshot: string }> {
    const record = await this.guestOnly(workspaceId, "resetWorkspace", () =>
      resetWorkspace(this.paths, workspaceId, options),
    );
    return { ...record, restored_snapshot: options.snapshot ?? BASELINE_SNAPSHOT };
  }

  /** A new workspace from a full snapshot of this one, or from its live state. */
  forkWorkspace(workspaceId: string, options: ForkOptions = {}): Promise<ForkPayload> {
    return this.guestOnly(workspaceId, "forkWorkspace", () =>
      forkWorkspace(this.paths, workspaceId, options),
    );
  }

  /** Save the running VM with its memory and end it; `startWorkspace` resumes it. */
  stopWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return stopWorkspace(this.paths, workspaceId);
  }

  startWorkspace(workspaceId: string): Promise<WorkspaceRecord> {
    return startWorkspace(this.paths, workspaceId);
  }

  openShell(workspaceId: string, options: OpenShellOptions = {}): Promise<ShellRecord> {
    return this.guestOnly(workspaceId, "openShell", () =>
      openShell(this.paths, workspaceId, options),
    );
  }

  readShell(
    workspaceId: string,
    shellId: string,
    options: ReadShellOptions = {},
  ): Promise<ShellReadPayload> {
    return this.guestOnly(workspaceId, "readShell", () =>
      readShell(this.paths, workspaceId, shellId, options),
    );
  }

  writeShell(
    workspaceId: string,
    shellId: string,
    options: { input: string; appendNewline?: boolean },
  ): Promise<ShellRecord & { input_chars: number }> {
    return this.guestOnly(workspaceId, "writeShell", () =>
      writeShell(this.paths, workspaceId, shellId, options),
    );
  }

  signalShell(
    workspaceId: string,
    shellId: string,
    options: { signalName?: SignalName } = {},
  ): Promise<ShellRecord & { signal: SignalName }> {
    return this.guestOnly(workspaceId, "signalShell", () =>
      signalShell(this.paths, workspaceId, shellId, options),
    );
  }

  resizeShell(
    workspaceId: string,
    shellId: string,
    options: { cols: number; rows: number },
  ): Promise<ShellRecord> {
    return this.guestOnly(workspaceId, "resizeShell", () =>
      resizeShell(this.paths, workspaceId, shellId, options),
    );
  }

  closeShell(workspaceId: string, shellId: string): Promise<ShellRecord & { closed: true }> {
    return this.guestOnly(workspaceId, "closeShell", () =>
      closeShell(this.paths, workspaceId, shellId),
    );
  }

  listShells(workspaceId: string): Promise<ShellListPayload> {
    return this.guestOnly(workspaceId, "listShells", () => listShells(this.paths, workspaceId));
  }

  startService(
    workspaceId: string,
    serviceName: string,
    options: StartServiceOptions,
  ): Promise<ServiceRecord> {
    return this.guestOnly(workspaceId, "startService", () =>
      startService(this.paths, workspaceId, serviceName, options),
    );
  }

  listServices(workspaceId: string): Promise<ServiceListPayload> {
    return this.guestOnly(workspaceId, "listServices", () => listServices(this.paths, workspaceId));
  }

  statusService(workspaceId: string, serviceName: string): Promise<ServiceRecord> {
    return this.guestOnly(workspaceId, "statusService", () =>
      statusService(this.paths, workspaceId, serviceName),
    );
  }

  logsService(
    workspaceId: string,
    serviceName: string,
    options: { tailLines?: number; all?: boolean } = {},
  ): Promise<ServiceLogsPayload> {
    return this.guestOnly(workspaceId, "logsService", () =>
      logsService(this.paths, workspaceId, serviceName, options),
    );
  }

  stopService(workspaceId: string, serviceName: string): Promise<ServiceRecord> {
    return this.guestOnly(workspaceId, "stopService", () =>
      stopService(this.paths, workspaceId, serviceName),
    );
  }

  /** What a workspace's guest can reach and which service ports are published on the host. */
  networkInfoWorkspace(workspaceId: string): Promise<WorkspaceNetworkPayload> {
    return workspaceNetworkInfo(this.paths, workspaceId);
  }

  /** Operations that need a guest refuse host_compat workspaces with a typed error. */
  private async guestOnly<T>(
    workspaceId: string,
    what: string,
    action: () => Promise<T>,
  ): Promise<T> {
    await requireGuest(this.paths, workspaceId, what);
    return action();
  }

  // The advanced one-shot VM lifecycle (src/core/vm.ts): a VM record plus a backing workspace.

  async createVm(options: CreateVmOptions): Promise<VmStatusPayload> {
    await reapExpiredWorkspaces(this.paths);
    return this.vmStatus(await createVmRecord(this.paths, options));
  }

  async startVm(vmId: string): Promise<VmStatusPayload> {
    await readVm(this.paths, vmId);
    return withVmLock(this.paths, vmId, async () => {
      const record = await readVm(this.paths, vmId);
      if (record.state === "started" && record.workspace_id) return this.vmStatus(record);
      const workspace = await this.createWorkspace({
        environment: record.environment,
        vcpuCount: record.vcpu_count,
        memMib: record.mem_mib,
        ttlSeconds: await remainingTtl(this.paths, record),
        network: record.network,
        allowHostCompat: record.allow_host_compat,
      });
      const started: VmRecord = {
        ...record,
        state: "started",
        workspace_id: workspace.workspace_id,
      };
      await writeVm(this.paths, started);
      return this.vmStatus(started);
    });
  }

  /** Run one command in the VM (starting it if needed), then delete the VM whatever happened. */
  async execVm(vmId: string, options: ExecWorkspaceOptions): Promise<VmExecPayload> {
    try {
      const status = await this.startVm(vmId);
      const { workspace_id: _id, ...result } = await this.execWorkspace(
        status.workspace_id as string,
        options,
      );
      return { vm_id: vmId, ...result, deleted: true };
    } finally {
      await this.deleteVm(vmId).catch(() => undefined);
    }
  }

  async stopVm(vmId: string): Promise<VmStatusPayload> {
    await readVm(this.paths, vmId);
    return withVmLock(this.paths, vmId, async () => {
      const record = await readVm(this.paths, vmId);
      await this.dropBacking(record);
      const stopped: VmRecord = {
        ...record,
        state: record.state === "created" ? "created" : "stopped",
        workspace_id: null,
      };
      await writeVm(this.paths, stopped);
      return this.vmStatus(stopped);
    });
  }

  async deleteVm(vmId: string): Promise<{ vm_id: string; deleted: true }> {
    await readVm(this.paths, vmId);
    await withVmLock(this.paths, vmId, async () => {
      const record = await readVm(this.paths, vmId).catch(() => undefined);
      if (record) await this.dropBacking(record);
      await removeVmRecord(this.paths, vmId);
    });
    return { vm_id: vmId, deleted: true };
  }

  async statusVm(vmId: string): Promise<VmStatusPayload> {
    return this.vmStatus(await readVm(this.paths, vmId));
  }

  async networkInfoVm(vmId: string): Promise<VmNetworkPayload> {
    const status = await this.statusVm(vmId);
    const host = status.execution_mode === "host_compat";
    const user = status.network && !host;
    return {
      vm_id: vmId,
      network: status.network || host,
      mode: host ? "host" : user ? "user" : "none",
      // QEMU's user-mode network hands out fixed addresses.
      guest_ip: user ? "10.0.2.15" : null,
      gateway: user ? "10.0.2.2" : null,
      dns: user ? "10.0.2.3" : null,
    };
  }

  /** Remove expired VMs (and their backing workspaces) and expired workspaces. */
  async reapExpired(): Promise<ReapPayload> {
    const vms: string[] = [];
    for (const id of await vmIds(this.paths)) {
      const record = await readVm(this.paths, id).catch(() => undefined);
      if (!record || Date.parse(record.expires_at) <= Date.now()) {
        if (record) await this.dropBacking(record);
        await removeVmRecord(this.paths, id);
        vms.push(id);
      }
    }
    const workspaces = await reapExpiredWorkspaces(this.paths);
    return { count: vms.length + workspaces.length, vms, workspaces };
  }

  private async dropBacking(record: VmRecord): Promise<void> {
    if (!record.workspace_id) return;
    await deleteWorkspace(this.paths, record.workspace_id).catch((error: unknown) => {
      if (!(error instanceof PyroError && error.code === "WORKSPACE_NOT_FOUND")) throw error;
    });
  }

  private async vmStatus(record: VmRecord): Promise<VmStatusPayload> {
    const { schema_version: _v, ...fields } = record;
    const base: VmStatusPayload = {
      ...fields,
      execution_mode: "guest_agent",
      accelerator: null,
      last_error: null,
    };
    if (!record.workspace_id) return base;
    const workspace = await this.statusWorkspace(record.workspace_id).catch(() => undefined);
    if (!workspace) {
      return {
        ...base,
        state: "crashed",
        last_error: "the VM's guest is gone (expired or removed)",
      };
    }
    return {
      ...base,
      state: workspace.state === "crashed" ? "crashed" : record.state,
      execution_mode: workspace.execution_mode,
      accelerator: workspace.accelerator,
      last_error: workspace.last_error,
    };
  }
}
