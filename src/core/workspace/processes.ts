import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { atomicWriteJson, processAlive, readJsonIfExists, readPidFile } from "../fs.js";
import type { PyroPaths } from "../paths.js";
import { workspaceFiles } from "./layout.js";

/**
 * The host processes of one workspace (its supervisor and QEMU), found by what they are rather
 * than by what a pid file says: delete, reset and TTL expiry end every one of them.
 */

/** Why the VM was stopped on purpose, written before the signal so clients can tell a reset from a crash. */
export interface StopReason {
  reason: "reset" | "delete" | "expired";
  /** The workspace's reset_count when it was stopped (the reset that stopped it makes it +1). */
  reset_count: number;
  at: string;
  pid: number;
}

export async function writeStopReason(
  paths: PyroPaths,
  id: string,
  reason: StopReason["reason"],
  resetCount: number,
): Promise<void> {
  const value: StopReason = {
    reason,
    reset_count: resetCount,
    at: new Date().toISOString(),
    pid: process.pid,
  };
  await atomicWriteJson(workspaceFiles(paths, id).stopReason, value).catch(() => undefined);
}

export async function readStopReason(
  paths: PyroPaths,
  id: string,
): Promise<StopReason | undefined> {
  const value = (await readJsonIfExists(workspaceFiles(paths, id).stopReason).catch(
    () => undefined,
  )) as Partial<StopReason> | undefined;
  return value && typeof value.reason === "string" && typeof value.reset_count === "number"
    ? (value as StopReason)
    : undefined;
}

/**
 * The name of the abstract Unix socket a supervisor binds for as long as it lives: the kernel
 * lets one process bind it, and frees it when that process dies, however it dies.
 */
export function supervisorClaimAddress(paths: PyroPaths, id: string): string {
  const digest = createHash("sha256").update(workspaceFiles(paths, id).dir).digest("hex");
  return `\0pyro-supervisor-${digest.slice(0, 40)}`;
}

async function commandLine(pid: number): Promise<string[] | undefined> {
  const raw = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  return raw === undefined || raw === "" ? undefined : raw.replace(/\0$/, "").split("\0");
}

function isSupervisorOf(argv: string[], paths: PyroPaths, id: string): boolean {
  const n = argv.length;
  return (
    n >= 3 &&
    argv[n - 1] === id &&
    argv[n - 2] === paths.stateDir &&
    /supervisor[/\\]main\.[jt]s$/.test(argv[n - 3] ?? "")
  );
}

/** Pid of the workspace's live supervisor (per its pid file), or undefined. */
export async function supervisorPid(paths: PyroPaths, id: string): Promise<number | undefined> {
  const pid = await readPidFile(workspaceFiles(paths, id).supervisorPid);
  if (pid === undefined) return undefined;
  const argv = await commandLine(pid);
  return argv && isSupervisorOf(argv, paths, id) ? pid : undefined;
}

/**
 * Every process that runs for the workspace, this one excepted: supervisors (by their arguments)
 * and QEMU processes (VMs and qemu-img) whose command line names a file in the workspace's folder.
 */
export async function workspaceProcesses(paths: PyroPaths, id: string): Promise<number[]> {
  const dir = `${workspaceFiles(paths, id).dir}/`;
  const found: number[] = [];
  for (const entry of await fs.readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = await commandLine(pid);
    if (!argv) continue;
    const qemu = /^qemu/.test(path.basename(argv[0] ?? ""));
    if (isSupervisorOf(argv, paths, id) || (qemu && argv.some((arg) => arg.includes(dir)))) {
      found.push(pid);
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    /* already gone */
  }
}

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pids.filter(processAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    alive = alive.filter(processAlive);
  }
  return alive;
}

/**
 * Stop everything that runs for the workspace: the supervisor gets SIGTERM (it kills QEMU and
 * exits) and a short grace, then every remaining workspace process gets SIGKILL. Returns once
 * none is left.
 */
export async function stopWorkspaceProcesses(paths: PyroPaths, id: string): Promise<void> {
  const supervisor = await supervisorPid(paths, id);
  if (supervisor !== undefined && supervisor !== process.pid) {
    signal(supervisor, "SIGTERM");
    await waitGone([supervisor], 5_000);
  }
  for (let round = 0; round < 5; round++) {
    const rest = await workspaceProcesses(paths, id);
    if (rest.length === 0) return;
    for (const pid of rest) signal(pid, "SIGKILL");
    await waitGone(rest, 2_000);
  }
}
