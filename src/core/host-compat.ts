import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
import { DEFAULTS } from "../contract.js";
import { catalogEntry } from "../environments/catalog.js";
import { TIMEOUT_EXIT_CODE } from "../protocol/messages.js";
import { findTool, requireTool } from "../runtime/host-tools.js";
import { captureOutput } from "./capture.js";
import { PyroError } from "./errors.js";
import { runsDir, type PyroPaths } from "./paths.js";
import type { RunOptions, RunPayload } from "./run.js";
import { checkCommand, checkRange } from "./validate.js";
import { checkHostTree, checkTarFile, isTarArchive } from "./workspace/archive-safety.js";
import {
  JOURNAL_OUTPUT_BYTES,
  type ExecWorkspacePayload,
  type JournalEntry,
} from "./workspace/exec.js";
import { WORKSPACE_GUEST_PATH, workspaceFiles } from "./workspace/layout.js";
import type { CreateWorkspaceOptions } from "./workspace/lifecycle.js";
import {
  readRecord,
  RECORD_SCHEMA_VERSION,
  updateRecord,
  writeRecord,
  type WorkspaceRecord,
  type WorkspaceSeed,
} from "./workspace/record.js";

/**
 * Host compatibility mode, the original's `--allow-host-compat`: when this host cannot boot a
 * guest, `run` and `workspace create` refuse unless the caller opts in; with the opt-in the
 * command runs as a plain child process of the host, in a private directory, with NO isolation.
 * Every result says so (`execution_mode: "host_compat"`), and so do `doctor` and `status`. Only
 * run, workspace exec, status, logs and delete work in this mode; the rest need a guest.
 *
 * `PYRO_SIMULATE_NO_GUEST_BOOT=1` makes pyro treat the host as unable to boot a guest (tests use
 * it to check both sides of the opt-in on a host that can).
 */
export type HostCompatMode = "host_compat";
export type HostCompatRecord = Omit<WorkspaceRecord, "execution_mode"> & {
  execution_mode: HostCompatMode;
};
export type HostCompatRunPayload = Omit<RunPayload, "execution_mode"> & {
  execution_mode: HostCompatMode;
};
export type HostCompatExecPayload = Omit<ExecWorkspacePayload, "execution_mode"> & {
  execution_mode: HostCompatMode;
};

/** Why this host cannot boot a guest, or undefined when it can. */
export function guestBootBlocker(): string | undefined {
  if (process.env.PYRO_SIMULATE_NO_GUEST_BOOT === "1") {
    return "PYRO_SIMULATE_NO_GUEST_BOOT=1 says this host cannot boot a guest";
  }
  if (!findTool("qemu")) return "qemu-system-x86_64 is not installed";
  return undefined;
}

/**
 * Decide where a run or workspace goes: a guest (undefined) or the host. Without the opt-in a
 * host that cannot boot a guest is an error naming the opt-in.
 */
export function useHostCompat(allowHostCompat: boolean | undefined): boolean {
  const blocker = guestBootBlocker();
  if (blocker === undefined) return false;
  if (allowHostCompat === true) return true;
  const optIn =
    "pass --allow-host-compat (allow_host_compat, allowHostCompat) to run on the host itself with NO isolation";
  if (!findTool("qemu")) {
    // The usual cause: say which package fixes it, as a run without the opt-in always did.
    try {
      requireTool("qemu");
    } catch (error) {
      if (error instanceof PyroError) {
        throw new PyroError(error.code, error.message, {
          hint: `${error.hint ?? ""} Or ${optIn}.`,
        });
      }
      throw error;
    }
  }
  throw new PyroError("GUEST_BOOT_UNAVAILABLE", `this host cannot boot a guest: ${blocker}`, {
    hint: "Fix the host (see `pyro doctor`), or pass --allow-host-compat (allow_host_compat, allowHostCompat) to run on the host itself with NO isolation.",
  });
}

interface HostRun {
  exitCode: number;
  timedOut: boolean;
  signal: string | null;
}

/** Run /bin/sh -c COMMAND in `cwd` as a host process group; the timeout kills the whole group. */
function runOnHost(
  command: string,
  cwd: string,
  timeoutSeconds: number,
  handlers: { onStdout: (c: Buffer) => void; onStderr: (c: Buffer) => void },
  signal?: AbortSignal,
): Promise<HostRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", command], {
      cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: cwd,
        PYRO_EXECUTION_MODE: "host_compat",
      },
    });
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutSeconds * 1000);
    const onAbort = () => {
      killGroup();
      reject(new PyroError("CANCELLED", "the run was cancelled"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", handlers.onStdout);
    child.stderr.on("data", handlers.onStderr);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve({
        exitCode: timedOut ? TIMEOUT_EXIT_CODE : (code ?? 128),
        timedOut,
        signal: timedOut ? null : sig,
      });
    });
  });
}

/** `run` on the host: a throwaway directory, removed afterwards. */
export async function runOnHostCompat(
  paths: PyroPaths,
  options: RunOptions,
): Promise<HostCompatRunPayload> {
  catalogEntry(options.environment);
  const command = checkCommand(options.command);
  const vcpuCount = checkRange("vcpuCount", options.vcpuCount ?? DEFAULTS.vcpuCount);
  const memMib = checkRange("memMib", options.memMib ?? DEFAULTS.memMib);
  const timeoutSeconds = checkRange(
    "timeoutSeconds",
    options.timeoutSeconds ?? DEFAULTS.timeoutSeconds,
  );
  const dir = path.join(runsDir(paths), `host-${randomBytes(6).toString("hex")}`);
  await fs.mkdir(dir, { recursive: true });
  try {
    const { stdout, stderr, handlers } = captureOutput(options);
    const started = performance.now();
    const result = await runOnHost(command, dir, timeoutSeconds, handlers, options.signal);
    return {
      environment: options.environment,
      command,
      stdout: stdout.text(),
      stderr: stderr.text(),
      stdout_truncated: stdout.truncated,
      stderr_truncated: stderr.truncated,
      exit_code: result.exitCode,
      timed_out: result.timedOut,
      signal: result.signal,
      duration_ms: Math.round(performance.now() - started),
      boot_ms: 0,
      execution_mode: "host_compat",
      accelerator: "none",
      vcpu_count: vcpuCount,
      mem_mib: memMib,
      network: true,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The host directory that stands in for /workspace. */
export const hostWorkspaceDir = (paths: PyroPaths, id: string): string =>
  path.join(workspaceFiles(paths, id).dir, "host-workspace");

async function seedHostDirectory(
  seedPath: string | undefined,
  dir: string,
): Promise<WorkspaceSeed> {
  await fs.mkdir(dir, { recursive: true });
  const seed: WorkspaceSeed = {
    mode: "empty",
    seed_path: null,
    destination: WORKSPACE_GUEST_PATH,
    entry_count: 0,
    bytes_written: 0,
  };
  if (seedPath === undefined) return seed;
  const absolute = path.resolve(seedPath);
  const stat = await fs.stat(absolute).catch(() => undefined);
  if (stat?.isDirectory()) {
    const stats = await checkHostTree(absolute);
    await fs.cp(absolute, dir, { recursive: true, verbatimSymlinks: true });
    return {
      ...seed,
      mode: "directory",
      seed_path: absolute,
      entry_count: stats.entryCount,
      bytes_written: stats.bytes,
    };
  }
  if (stat?.isFile() && isTarArchive(absolute)) {
    const stats = await checkTarFile(absolute);
    await tar.x({ file: absolute, cwd: dir, strict: true, preserveOwner: false });
    return {
      ...seed,
      mode: "tar_archive",
      seed_path: absolute,
      entry_count: stats.entryCount,
      bytes_written: stats.bytes,
    };
  }
  throw new PyroError("SEED_NOT_FOUND", `seed path ${absolute} is not a directory or tar archive`, {
    hint: "Pass an existing directory or a .tar, .tar.gz or .tgz archive to --seed-path.",
  });
}

/** `workspace create` on the host: a record and a seeded directory; no VM, no supervisor. */
export async function createHostCompatWorkspace(
  paths: PyroPaths,
  options: CreateWorkspaceOptions,
): Promise<HostCompatRecord> {
  catalogEntry(options.environment);
  const vcpuCount = checkRange("vcpuCount", options.vcpuCount ?? DEFAULTS.vcpuCount);
  const memMib = checkRange("memMib", options.memMib ?? DEFAULTS.memMib);
  const ttlSeconds = checkRange("ttlSeconds", options.ttlSeconds ?? DEFAULTS.ttlSeconds);
  const id = randomBytes(6).toString("hex");
  const files = workspaceFiles(paths, id);
  await fs.mkdir(files.dir, { recursive: true });
  try {
    const seed = await seedHostDirectory(options.seedPath, hostWorkspaceDir(paths, id));
    const now = new Date();
    const record: HostCompatRecord = {
      schema_version: RECORD_SCHEMA_VERSION,
      workspace_id: id,
      environment: options.environment,
      state: "started",
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      ttl_seconds: ttlSeconds,
      vcpu_count: vcpuCount,
      mem_mib: memMib,
      network: options.network ?? false,
      workspace_path: WORKSPACE_GUEST_PATH,
      workspace_seed: seed,
      command_count: 0,
      reset_count: 0,
      last_reset_at: null,
      last_error: null,
      execution_mode: "host_compat",
      accelerator: null,
      service_count: 0,
      running_service_count: 0,
    };
    await writeRecord(paths, record as unknown as WorkspaceRecord);
    return record;
  } catch (error) {
    await fs.rm(files.dir, { recursive: true, force: true });
    throw error;
  }
}

export async function isHostCompatWorkspace(paths: PyroPaths, id: string): Promise<boolean> {
  const record = (await readRecord(paths, id)) as { execution_mode: string };
  return record.execution_mode === "host_compat";
}

/** Refuse an operation that needs a guest on a host-compat workspace. */
export async function requireGuest(paths: PyroPaths, id: string, what: string): Promise<void> {
  if (await isHostCompatWorkspace(paths, id).catch(() => false)) {
    throw new PyroError(
      "HOST_COMPAT_UNSUPPORTED",
      `${what} needs a guest, and workspace ${id} runs in host_compat mode (on the host, no isolation)`,
      {
        hint: "In host_compat mode only exec, status, logs and delete work; create the workspace on a host that can boot guests for the rest.",
      },
    );
  }
}

/** `workspace exec` on the host, recorded in the journal like a guest exec. */
export async function execHostCompat(
  paths: PyroPaths,
  id: string,
  options: { command: string; timeoutSeconds?: number } & Pick<RunOptions, "onStdout" | "onStderr">,
): Promise<HostCompatExecPayload> {
  const command = checkCommand(options.command);
  const timeoutSeconds = checkRange(
    "timeoutSeconds",
    options.timeoutSeconds ?? DEFAULTS.timeoutSeconds,
  );
  const { stdout, stderr, handlers } = captureOutput(options);
  const startedAt = new Date();
  const started = performance.now();
  const result = await runOnHost(command, hostWorkspaceDir(paths, id), timeoutSeconds, handlers);
  const record = await updateRecord(paths, id, (r) => {
    r.command_count += 1;
  });
  const entry = {
    sequence: record.command_count,
    command,
    cwd: WORKSPACE_GUEST_PATH,
    exit_code: result.exitCode,
    timed_out: result.timedOut,
    duration_ms: Math.round(performance.now() - started),
    started_at: startedAt.toISOString(),
    stdout: stdout.text(),
    stderr: stderr.text(),
    stdout_truncated: stdout.truncated,
    stderr_truncated: stderr.truncated,
    execution_mode: "host_compat" as const,
  };
  const journal = {
    ...entry,
    stdout: entry.stdout.slice(0, JOURNAL_OUTPUT_BYTES),
    stderr: entry.stderr.slice(0, JOURNAL_OUTPUT_BYTES),
  };
  await fs.appendFile(
    workspaceFiles(paths, id).journal,
    `${JSON.stringify(journal as unknown as JournalEntry)}\n`,
  );
  return { workspace_id: id, ...entry };
}
