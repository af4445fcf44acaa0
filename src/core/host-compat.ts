import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { TIMEOUT_EXIT_CODE } from "../protocol/messages.js";
import { findTool, requireTool } from "../runtime/host-tools.js";
import { captureOutput } from "./capture.js";
import { PyroError } from "./errors.js";
import { runsDir, type PyroPaths } from "./paths.js";
import {
  checkRunOptions,
  runPayload,
  type ExecOutcome,
  type RunOptions,
  type RunPayload,
} from "./run.js";
import { checkCommand, checkRange } from "./validate.js";
import { DEFAULTS } from "../contract.js";
import { recorderHandlers, type ExecWorkspacePayload } from "./workspace/exec.js";
import { beginCommand } from "./workspace/journal.js";
import { checkExecBounds } from "./output-bounds.js";
import { workspaceFiles } from "./workspace/layout.js";
import type { CreateWorkspaceOptions } from "./workspace/lifecycle.js";
import {
  checkWorkspaceSpec,
  newWorkspaceRecord,
  readRecord,
  writeRecord,
  type WorkspaceRecord,
} from "./workspace/record.js";
import { prepareSeed } from "./workspace/seed.js";

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
  const optIn = "pass --allow-host-compat to run on the host itself with NO isolation";
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
    hint: "Fix the host (see `pyro doctor`), or pass --allow-host-compat to run on the host itself with NO isolation.",
  });
}

/** Run /bin/sh -c COMMAND in `cwd` as a host process group; the timeout kills the whole group. */
function runOnHost(
  command: string,
  cwd: string,
  timeoutSeconds: number,
  handlers: { onStdout: (c: Buffer) => unknown; onStderr: (c: Buffer) => unknown },
  signal?: AbortSignal,
): Promise<ExecOutcome> {
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
    forward(child.stdout, handlers.onStdout);
    forward(child.stderr, handlers.onStderr);
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

/**
 * Pass a child's output on; a handler's promise (a slow reader) pauses the pipe until it
 * resolves, so the host holds no more than a pipe's worth, as the guest's credit does.
 */
function forward(stream: Readable, handler: (chunk: Buffer) => unknown): void {
  stream.on("data", (chunk: Buffer) => {
    const pending = handler(chunk);
    if (pending instanceof Promise) {
      stream.pause();
      void pending.finally(() => stream.resume());
    }
  });
}

/** `run` on the host: a throwaway directory, removed afterwards. */
export async function runOnHostCompat(paths: PyroPaths, options: RunOptions): Promise<RunPayload> {
  const spec = checkRunOptions(options);
  const dir = path.join(runsDir(paths), `host-${randomBytes(6).toString("hex")}`);
  await fs.mkdir(dir, { recursive: true });
  try {
    const { stdout, stderr, handlers } = captureOutput(options);
    const started = performance.now();
    const outcome = await runOnHost(
      spec.command,
      dir,
      spec.timeoutSeconds,
      handlers,
      options.signal,
    );
    // The host's own network, whatever was asked: there is nothing to switch off.
    return runPayload({ ...spec, network: true }, { stdout, stderr }, outcome, {
      durationMs: Math.round(performance.now() - started),
      bootMs: 0,
      executionMode: "host_compat",
      accelerator: "none",
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The host directory that stands in for /workspace. */
export const hostWorkspaceDir = (paths: PyroPaths, id: string): string =>
  path.join(workspaceFiles(paths, id).dir, "host-workspace");

/** `workspace create` on the host: a record and a seeded directory; no VM, no supervisor. */
export async function createHostCompatWorkspace(
  paths: PyroPaths,
  options: CreateWorkspaceOptions,
): Promise<WorkspaceRecord> {
  const spec = checkWorkspaceSpec(options);
  const id = randomBytes(6).toString("hex");
  const files = workspaceFiles(paths, id);
  const dir = hostWorkspaceDir(paths, id);
  await fs.mkdir(files.dir, { recursive: true });
  try {
    // The same checks as a guest's seed; a seed directory is then copied, an archive unpacked.
    const { seed, source } = await prepareSeed(options.seedPath, dir);
    if (source !== dir) await fs.cp(source, dir, { recursive: true, verbatimSymlinks: true });
    const record = newWorkspaceRecord(id, spec, seed, {
      now: new Date(),
      state: "started",
      executionMode: "host_compat",
    });
    await writeRecord(paths, record);
    return record;
  } catch (error) {
    await fs.rm(files.dir, { recursive: true, force: true });
    throw error;
  }
}

export async function isHostCompatWorkspace(paths: PyroPaths, id: string): Promise<boolean> {
  return (await readRecord(paths, id)).execution_mode === "host_compat";
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

/** `workspace exec` on the host, recorded in the journal like a guest exec (no wait_seconds). */
export async function execHostCompat(
  paths: PyroPaths,
  id: string,
  options: { command: string; timeoutSeconds?: number; maxOutputBytes?: number } & Pick<
    RunOptions,
    "onStdout" | "onStderr" | "signal"
  >,
): Promise<ExecWorkspacePayload> {
  const command = checkCommand(options.command);
  const timeoutSeconds = checkRange(
    "timeoutSeconds",
    options.timeoutSeconds ?? DEFAULTS.timeoutSeconds,
  );
  const { resultBytes } = checkExecBounds(options);
  const recording = await beginCommand(paths, id, {
    command,
    executionMode: "host_compat",
    resultBytes,
  });
  try {
    const outcome = await runOnHost(
      command,
      hostWorkspaceDir(paths, id),
      timeoutSeconds,
      recorderHandlers(recording, options),
      options.signal,
    );
    return { workspace_id: id, ...(await recording.finish("finished", outcome)) };
  } catch (error) {
    await recording.finish("lost");
    throw error;
  }
}
