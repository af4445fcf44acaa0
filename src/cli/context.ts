import { WorkspaceManager } from "../core/manager.js";
import { reportError } from "./output.js";

/** What every command handler gets: the manager and the one error/exit-status path. */
export interface CliContext {
  manager(): WorkspaceManager;
  /** Run a handler; its number result (or 0) becomes the exit status, errors are reported. */
  run(json: boolean | undefined, handler: () => Promise<number | void>): Promise<void>;
}

export function createContext(): CliContext {
  let manager: WorkspaceManager | undefined;
  return {
    manager: () => (manager ??= new WorkspaceManager()),
    run: async (json, handler) => {
      try {
        process.exitCode = (await handler()) ?? 0;
      } catch (error) {
        process.exitCode = reportError(error, json === true);
      }
    },
  };
}
