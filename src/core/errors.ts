/**
 * One error root for the whole product. Every failure a user can cause or meet carries a stable
 * `code`, a message naming the problem and a `hint` naming the fix. Surfaces map it in one place:
 * the CLI prints it and exits non-zero, MCP returns it as a tool error, the SDK throws it.
 */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "UNKNOWN_ENVIRONMENT"
  | "ENVIRONMENT_NOT_INSTALLED"
  | "ENVIRONMENT_BUILD_FAILED"
  | "HOST_TOOL_MISSING"
  | "AGENT_MISSING"
  | "VM_BOOT_FAILED"
  | "VM_BOOT_TIMEOUT"
  | "VM_CRASHED"
  | "PROTOCOL_ERROR"
  | "GUEST_ERROR"
  | "CANCELLED"
  | "LOCK_TIMEOUT"
  | "WORKSPACE_NOT_FOUND"
  | "WORKSPACE_CORRUPT"
  | "WORKSPACE_NOT_RUNNING"
  | "UNSAFE_PATH"
  | "UNSAFE_ARCHIVE"
  | "SEED_NOT_FOUND"
  | "OUTPUT_EXISTS"
  | "EXPORT_FAILED"
  | "BASELINE_MISSING"
  | "SNAPSHOT_EXISTS"
  | "SNAPSHOT_NOT_FOUND"
  | "SHELL_NOT_FOUND"
  | "SHELL_NOT_RUNNING"
  | "SERVICE_NOT_FOUND"
  | "SERVICE_EXISTS"
  | "SERVICE_FAILED"
  | "LIMIT_REACHED"
  | "GUEST_BOOT_UNAVAILABLE"
  | "HOST_COMPAT_UNSUPPORTED"
  | "VM_NOT_FOUND"
  | "INTERNAL";

export interface PyroErrorPayload {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export class PyroError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PyroError";
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): PyroErrorPayload {
    const payload: PyroErrorPayload = { code: this.code, message: this.message };
    if (this.hint !== undefined) payload.hint = this.hint;
    if (this.details !== undefined) payload.details = this.details;
    return payload;
  }
}

/** Wrap anything thrown into a PyroError so surfaces only ever format one kind of error. */
export function toPyroError(error: unknown): PyroError {
  if (error instanceof PyroError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new PyroError("INTERNAL", message, {
    hint: "This is a bug in pyro; please report it with the command you ran.",
    cause: error,
  });
}

export function invalidArgument(message: string, hint: string): PyroError {
  return new PyroError("INVALID_ARGUMENT", message, { hint });
}
