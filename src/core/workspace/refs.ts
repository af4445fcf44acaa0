import type { PyroPaths } from "../paths.js";
import { resolveWorkspaceRef } from "./names.js";
import { redactDeep, redactError } from "./redact.js";
import { secretValues } from "./secrets.js";

/**
 * The manager methods whose first argument is a workspace: each takes an id or a unique name.
 * A method added to the manager that takes a workspace first belongs here too
 * (tests/unit/workspace-refs.test.ts checks it).
 */
export const WORKSPACE_REF_METHODS = [
  "statusWorkspace",
  "updateWorkspace",
  "execWorkspace",
  "logsWorkspace",
  "deleteWorkspace",
  "pushWorkspaceSync",
  "exportWorkspace",
  "listWorkspaceDisk",
  "readWorkspaceDisk",
  "exportWorkspaceDisk",
  "diffWorkspace",
  "createSnapshot",
  "listSnapshots",
  "deleteSnapshot",
  "resetWorkspace",
  "stopWorkspace",
  "startWorkspace",
  "openShell",
  "readShell",
  "writeShell",
  "signalShell",
  "resizeShell",
  "closeShell",
  "listShells",
  "startService",
  "listServices",
  "statusService",
  "logsService",
  "stopService",
  "networkInfoWorkspace",
  "listWorkspaceFiles",
  "readWorkspaceFile",
  "writeWorkspaceFile",
  "applyWorkspacePatch",
  "summarizeWorkspace",
  "forkWorkspace",
] as const;

type AsyncMethod = (this: unknown, ...args: unknown[]) => Promise<unknown>;

/**
 * Wrap each of those methods of `manager` once, in its constructor: the name is resolved to the
 * id before the method runs (so the core only ever sees ids), and the result and any error have
 * the workspace's secret values redacted on their way out (service logs, records, messages).
 */
export function bindWorkspaceRefs(manager: object, paths: PyroPaths): void {
  const target = manager as Record<string, unknown>;
  for (const method of WORKSPACE_REF_METHODS) {
    const original = target[method];
    if (typeof original !== "function") continue;
    const call = original as AsyncMethod;
    target[method] = async (ref: unknown, ...rest: unknown[]) => {
      const id = typeof ref === "string" ? await resolveWorkspaceRef(paths, ref) : ref;
      // Read before the call: delete removes the file the values come from.
      const values = typeof id === "string" ? await secretValues(paths, id) : [];
      try {
        return redactDeep(await call.call(manager, id, ...rest), values);
      } catch (error) {
        throw redactError(error, values);
      }
    };
  }
}
