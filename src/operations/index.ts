import * as disk from "./disk.js";
import * as environments from "./environments.js";
import * as names from "./names.js";
import * as network from "./network.js";
import * as files from "./files.js";
import * as fork from "./fork.js";
import * as services from "./services.js";
import * as shells from "./shells.js";
import * as snapshots from "./snapshots.js";
import * as summary from "./summary.js";
import * as vm from "./vm.js";
import * as workspace from "./workspace.js";
import type { Operation } from "./define.js";

/**
 * Every operation of the product, keyed by SDK method name. Adding an operation means one
 * declaration in its group file plus its core code; the CLI, MCP server, SDK, contract test and
 * docs check all follow from this table.
 */
export const OPERATIONS = {
  doctor: environments.doctor,
  listEnvironments: environments.listEnvironments,
  pullEnvironment: environments.pullEnvironment,
  inspectEnvironment: environments.inspectEnvironment,
  pruneEnvironments: environments.pruneEnvironments,
  buildEnvironment: environments.buildEnvironment,
  runInVm: vm.runInVm,
  createVm: vm.createVm,
  startVm: vm.startVm,
  execVm: vm.execVm,
  stopVm: vm.stopVm,
  deleteVm: vm.deleteVm,
  statusVm: vm.statusVm,
  networkInfoVm: vm.networkInfoVm,
  reapExpired: vm.reapExpired,
  waitRun: vm.waitRun,
  createWorkspace: workspace.createWorkspace,
  statusWorkspace: workspace.statusWorkspace,
  listWorkspaces: workspace.listWorkspaces,
  updateWorkspace: names.updateWorkspace,
  execWorkspace: workspace.execWorkspace,
  logsWorkspace: workspace.logsWorkspace,
  deleteWorkspace: workspace.deleteWorkspace,
  pushWorkspaceSync: workspace.pushWorkspaceSync,
  exportWorkspace: workspace.exportWorkspace,
  diffWorkspace: workspace.diffWorkspace,
  listWorkspaceDisk: disk.listWorkspaceDisk,
  readWorkspaceDisk: disk.readWorkspaceDisk,
  exportWorkspaceDisk: disk.exportWorkspaceDisk,
  resetWorkspace: workspace.resetWorkspace,
  stopWorkspace: workspace.stopWorkspace,
  startWorkspace: workspace.startWorkspace,
  createSnapshot: snapshots.createSnapshot,
  listSnapshots: snapshots.listSnapshots,
  deleteSnapshot: snapshots.deleteSnapshot,
  openShell: shells.openShell,
  readShell: shells.readShell,
  writeShell: shells.writeShell,
  signalShell: shells.signalShell,
  resizeShell: shells.resizeShell,
  closeShell: shells.closeShell,
  listShells: shells.listShells,
  startService: services.startService,
  listServices: services.listServices,
  statusService: services.statusService,
  logsService: services.logsService,
  stopService: services.stopService,
  networkInfoWorkspace: network.networkInfoWorkspace,
  listWorkspaceFiles: files.listWorkspaceFiles,
  readWorkspaceFile: files.readWorkspaceFile,
  writeWorkspaceFile: files.writeWorkspaceFile,
  applyWorkspacePatch: files.applyWorkspacePatch,
  summarizeWorkspace: summary.summarizeWorkspace,
  forkWorkspace: fork.forkWorkspace,
} as const;

export type Operations = typeof OPERATIONS;
export type OperationName = keyof Operations;
export type AnyOperation = Operation;

/** The declarations as a list, for the surfaces that walk them all. */
export const OPERATION_LIST: readonly AnyOperation[] = Object.values(OPERATIONS) as AnyOperation[];

export {
  defineOperation,
  type Operation,
  type OperationHooks,
  type HumanOutput,
} from "./define.js";
export { invoke, type Surface } from "./invoke.js";
