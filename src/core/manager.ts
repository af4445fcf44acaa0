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
}
