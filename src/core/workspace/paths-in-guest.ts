import path from "node:path";
import { PyroError } from "../errors.js";
import { checkLengths } from "../archive/tree-policy.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";

/**
 * Resolve a user-given guest path against /workspace and refuse anything that leaves it.
 * Returns the path relative to /workspace ("." for the root itself).
 */
export function workspaceRelative(input: string, what: string): string {
  if (typeof input !== "string" || input === "" || input.includes("\0")) {
    throw new PyroError("UNSAFE_PATH", `${what} is empty or invalid`, {
      hint: "Give a path inside /workspace, e.g. src/app.py or /workspace/src.",
    });
  }
  const absolute = path.posix.resolve(WORKSPACE_GUEST_PATH, input);
  if (absolute !== WORKSPACE_GUEST_PATH && !absolute.startsWith(`${WORKSPACE_GUEST_PATH}/`)) {
    throw new PyroError("UNSAFE_PATH", `${what} "${input}" is outside /workspace`, {
      hint: "Only paths under /workspace can be used; relative paths resolve from /workspace.",
    });
  }
  const relative = path.posix.relative(WORKSPACE_GUEST_PATH, absolute) || ".";
  checkLengths(relative);
  return relative;
}
