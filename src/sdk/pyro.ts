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

  /** An MCP server exposing this SDK's manager as tools; connect it to any transport. */
  createServer(): McpServer {
    return createServer(this.manager);
  }
}
