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
  | "ARCHIVE_CORRUPT"
  | "ARCHIVE_UNSUPPORTED"
  | "PATH_TOO_LONG"
  | "NAME_NOT_UTF8"
  | "EXPORT_PATH_NOT_FOUND"
  | "OUTPUT_NOT_WRITABLE"
  | "GUEST_UNRESPONSIVE"
  | "WORKSPACE_BUSY"
  | "DISK_ERROR"
  | "WORKSPACE_RESET"
  | "HOST_IO_ERROR"
  | "GUEST_BOOT_UNAVAILABLE"
  | "HOST_COMPAT_UNSUPPORTED"
  | "VM_NOT_FOUND"
  | "WORKSPACE_RUNNING"
  | "DISK_UNREADABLE"
  | "DISK_PATH_NOT_FOUND"
  | "VM_SAVE_FAILED"
  | "WORKSPACE_STOPPED"
  | "WORKSPACE_NAME_TAKEN"
  | "SECRET_NOT_FOUND"
  | "SECRET_FILE_UNREADABLE"
  | "PORT_IN_USE"
  | "PUBLISH_NOT_ALLOWED"
  | "COMMAND_NOT_FOUND"
  | "RUN_NOT_FOUND"
  | "FILE_NOT_FOUND"
  | "NOT_A_FILE"
  | "FILE_NOT_TEXT"
  | "FILE_TOO_LARGE"
  | "FILE_CHANGED"
  | "READ_PAST_END"
  | "PATCH_INVALID"
  | "PATCH_CONFLICT"
  | "DISK_SPACE_LOW"
  | "IMAGE_REFERENCE_INVALID"
  | "IMAGE_PULL_FAILED"
  | "IMAGE_UNSAFE"
  | "ENVIRONMENT_EXISTS"
  | "ENVIRONMENT_BUILD_STEP_FAILED"
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
  const hostIo = hostIoError(error);
  if (hostIo) return hostIo;
  const message = error instanceof Error ? error.message : String(error);
  return new PyroError("INTERNAL", message, {
    hint: "This is a bug in pyro; please report it with the command you ran.",
    cause: error,
  });
}

/** What Node puts on a failed file-system call (`fs`, `child_process` spawn, sockets). */
interface ErrnoLike {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
}

function isErrnoLike(error: unknown): error is Error & ErrnoLike {
  return error instanceof Error && typeof (error as Partial<ErrnoLike>).code === "string";
}

/** Host conditions a user can meet and fix: each errno with what it means and what to do. */
const HOST_ERRNO: Readonly<Record<string, { problem: string; hint: (path: string) => string }>> = {
  ENOENT: {
    problem: "no such file or directory",
    hint: (p) => `Check that ${p} exists, or give another path.`,
  },
  EACCES: {
    problem: "permission denied",
    hint: (p) => `Check the permissions of ${p} and its parent directories, or use another path.`,
  },
  EPERM: {
    problem: "operation not permitted",
    hint: (p) => `Check the ownership and permissions of ${p}, or use another path.`,
  },
  EROFS: {
    problem: "read-only file system",
    hint: (p) => `${p} is on a read-only file system; use a writable location.`,
  },
  ENOSPC: {
    problem: "no space left on device",
    hint: (p) =>
      `Free space on the file system that holds ${p} (deleting unused workspaces helps), then retry.`,
  },
  EDQUOT: {
    problem: "disk quota exceeded",
    hint: (p) => `Free space within your quota on the file system that holds ${p}, then retry.`,
  },
  ENAMETOOLONG: {
    problem: "name too long",
    hint: () => "Use a shorter path: names up to 255 bytes, whole paths up to 4096.",
  },
  EEXIST: {
    problem: "already exists",
    hint: (p) => `Remove ${p} or choose another path.`,
  },
  ENOTDIR: {
    problem: "a component of the path is not a directory",
    hint: (p) => `Check each directory in ${p}; one of them is a file.`,
  },
  EISDIR: {
    problem: "is a directory",
    hint: (p) => `${p} is a directory; give a file path.`,
  },
  ENOTEMPTY: {
    problem: "directory not empty",
    hint: (p) => `Empty or remove ${p}, or choose another path.`,
  },
  ELOOP: {
    problem: "too many levels of symbolic links",
    hint: (p) => `Check the symbolic links along ${p}; one of them loops.`,
  },
  EXDEV: {
    problem: "cannot move across file systems",
    hint: (p) => `Use a path on the same file system as pyro's state directory instead of ${p}.`,
  },
  EMFILE: {
    problem: "too many open files in this process",
    hint: () => "Raise the open-file limit (`ulimit -n`) or run fewer operations at once.",
  },
  ENFILE: {
    problem: "too many open files on this host",
    hint: () => "Close other programs' files or raise the system's open-file limit.",
  },
  EIO: {
    problem: "input/output error",
    hint: (p) => `The host's storage reported an error for ${p}; check the disk (dmesg).`,
  },
};

/**
 * The last line of defence: an errno error from a host file-system call that no operation
 * turned into its own code is still an ordinary condition (a full disk, a read-only mount, a
 * missing directory), not a bug. It becomes HOST_IO_ERROR naming the path and the errno.
 */
function hostIoError(error: unknown): PyroError | undefined {
  if (!isErrnoLike(error)) return undefined;
  const known = HOST_ERRNO[error.code];
  if (!known) return undefined;
  const where = error.path ?? error.dest;
  const subject = where ?? "the path involved";
  const action = error.syscall ? `${error.syscall} ` : "";
  return new PyroError(
    "HOST_IO_ERROR",
    `host ${action}${where === undefined ? "" : `${where} `}failed: ${known.problem} (${error.code})`,
    {
      hint: known.hint(subject),
      details: {
        errno: error.code,
        ...(error.syscall ? { syscall: error.syscall } : {}),
        ...(error.path !== undefined ? { path: error.path } : {}),
        ...(error.dest !== undefined ? { dest: error.dest } : {}),
      },
      cause: error,
    },
  );
}

export function invalidArgument(message: string, hint: string): PyroError {
  return new PyroError("INVALID_ARGUMENT", message, { hint });
}
