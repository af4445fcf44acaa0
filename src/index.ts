export {
  Pyro,
  type PyroOptions,
  type PyroMethods,
  type RunInVmOptions,
  type SdkOptions,
  type SdkResult,
} from "./sdk/pyro.js";
export { createServer } from "./mcp/server.js";
export { WorkspaceManager, type ManagerOptions } from "./core/manager.js";
export { PyroError, type ErrorCode, type PyroErrorPayload } from "./core/errors.js";
export type { DoctorPayload } from "./core/doctor.js";
export type {
  EnvironmentInspectPayload,
  EnvironmentListPayload,
  EnvironmentPrunePayload,
  EnvironmentPullPayload,
  EnvironmentSummary,
} from "./core/environments.js";
export type { RunPayload } from "./core/run.js";
export type { ShellListPayload, ShellReadPayload, ShellRecord } from "./core/workspace/shells.js";
export type {
  ServiceListPayload,
  ServiceLogsPayload,
  ServiceRecord,
  ServiceState,
  StartServiceOptions,
} from "./core/workspace/services.js";
export type { ReadinessInput } from "./core/workspace/shell-service-args.js";
export type { PullProgress, PullPhase } from "./environments/build.js";
export { DEFAULTS, LIMITS } from "./contract.js";
export { OPERATIONS, type OperationName } from "./operations/index.js";
export { VERSION } from "./version.js";
