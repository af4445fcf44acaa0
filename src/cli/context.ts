import { WorkspaceManager } from "../core/manager.js";
import { reportError, STDOUT_CLOSED_EXIT, stdoutClosed } from "./output.js";

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
        // Once the reader of stdout is gone, the error is our own cancellation: stay quiet.
        if (!stdoutClosed.aborted) process.exitCode = reportError(error, json === true);
      }
      if (stdoutClosed.aborted) process.exit(STDOUT_CLOSED_EXIT);
    },
  };
}
