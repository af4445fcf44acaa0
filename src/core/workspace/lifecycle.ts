import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AgentConnection, greet } from "../../protocol/client.js";
import { ensureEnvironment } from "../environments.js";
import { PyroError } from "../errors.js";
import { faultPoint } from "../fault.js";
import { pathExists } from "../fs.js";
import { liveLockHolder, type LockHolder, type LockOptions } from "../lock.js";
import { bootTimeoutMs } from "../vm-launch.js";
import { packageRoot, type PyroPaths } from "../paths.js";
import { workspaceFiles, workspacesDir, WORKSPACE_ID_PATTERN } from "./layout.js";
import {
  checkWorkspaceId,
  checkWorkspaceSpec,
  LIFECYCLE_OPERATIONS,
  newWorkspaceRecord,
  readRecord,
  WORKSPACE_LOCK_HOLD_MS,
  withWorkspaceLock,
  type WorkspaceRecord,
} from "./record.js";
import { buildBaseline } from "./seed.js";
import type { NetworkPolicy } from "../network/policy.js";
import { createOverlay } from "../../runtime/qemu/img.js";
import { markBaseline } from "./snapshots.js";
import { imageUsage } from "./offline-usage.js";
import {
  readStopReason,
  stopWorkspaceProcesses,
  supervisorPid,
  writeStopReason,
} from "./processes.js";
import { writeNewRecord, type WorkspaceIdentity } from "./identity.js";
import { materializeSecrets } from "./secrets.js";
import { supervisorMallocEnv, supervisorNodeFlags } from "../../supervisor/node-flags.js";

export interface CreateWorkspaceOptions {
  environment: string;
  vcpuCount?: number;
  memMib?: number;
  ttlSeconds?: number;
  network?: boolean;
  networkPolicy?: NetworkPolicy;
  seedPath?: string;
  /** Name, labels and secrets, checked by prepareIdentity (identity.ts). */
  identity?: WorkspaceIdentity;
}

/** The supervisor's entry point: compiled JavaScript, also when this module runs from source. */
function supervisorScript(): string {
  const sibling = path.join(
    path.dirname(fileURLToPath(import.meta.url)),
    "..",
    "..",
    "supervisor",
    "main.js",
  );
  return existsSync(sibling)
    ? sibling
    : path.join(packageRoot(), "dist", "src", "supervisor", "main.js");
}

/** How long create may hold the workspace lock: seeding a large tree plus a slow boot. */
const CREATE_HOLD_MS = 60 * 60_000;

/** How long the CLI waits for a supervisor to report the VM up (its own boot deadline plus a margin). */
export function supervisorStartMs(): number {
  return bootTimeoutMs() + 120_000;
}

/**
 * Lock options for reset and delete: they wait for each other and for create (serialize), and
 * preempt anything else that keeps the lock (a hung snapshot, a stuck guest call) by stopping the
 * VM, so the holder fails fast and lets go. Reset and delete always win.
 */
export function lifecycleLock(
  paths: PyroPaths,
  workspaceId: string,
  operation: "reset" | "delete",
): Omit<LockOptions, "what"> {
  const holdMs = operation === "reset" ? supervisorStartMs() + 60_000 : 60_000;
  return {
    operation,
    holdMs,
    timeoutMs: Math.max(WORKSPACE_LOCK_HOLD_MS, supervisorStartMs() + 60_000) + 60_000,
    onBusy: async (holder) => {
      if (LIFECYCLE_OPERATIONS.includes(holder.operation)) return;
      const record = await readRecord(paths, workspaceId).catch(() => undefined);
      await writeStopReason(paths, workspaceId, operation, record?.reset_count ?? 0);
      await stopWorkspaceProcesses(paths, workspaceId);
    },
  };
}

/**
 * Create and start a workspace: build the baseline from the seed, put the /workspace overlay on
 * it, start the supervisor that boots the VM, and wait until the agent answers. The workspace
 * lock is held from before the folder exists until the VM is up, so list and delete can tell a
 * create in progress from the remains of a killed one. If anything fails the folder is removed.
 */
export async function createWorkspace(
  paths: PyroPaths,
  options: CreateWorkspaceOptions,
): Promise<WorkspaceRecord> {
  const spec = checkWorkspaceSpec(options);
  await reapExpired(paths);
  await ensureEnvironment(paths, options.environment);

  const workspaceId = randomBytes(6).toString("hex");
  const files = workspaceFiles(paths, workspaceId);
  await withWorkspaceLock(
    paths,
    workspaceId,
    async (holder) => {
      await fs.mkdir(files.dir, { recursive: true });
      try {
        const staging = path.join(files.dir, "seed-staging");
        const seed = await buildBaseline(options.seedPath, staging, files.baseline);
        await fs.rm(staging, { recursive: true, force: true });
        await fs.chmod(files.baseline, 0o444);
        await createOverlay(files.baseline, files.workspaceDisk);
        const now = new Date();
        // Measured like every snapshot: from the filesystem's own counters.
        const usage = await imageUsage(files.baseline);
        await markBaseline(paths, workspaceId, {
          created_at: now.toISOString(),
          entry_count: usage.entry_count,
          bytes_written: usage.used_bytes,
        });
        await faultPoint("create:baseline-done");
        const record = newWorkspaceRecord(workspaceId, spec, seed, {
          now,
          state: "starting",
          executionMode: "guest_agent",
        });
        await writeNewRecord(paths, record, options.identity);
        await startSupervisor(paths, workspaceId, holder);
        await materializeSecrets(paths, workspaceId);
        await faultPoint("create:supervisor-started", () => supervisorPid(paths, workspaceId));
      } catch (error) {
        await stopWorkspaceProcesses(paths, workspaceId);
        await fs.rm(files.dir, { recursive: true, force: true });
        throw error;
      }
    },
    { operation: "create", holdMs: CREATE_HOLD_MS, timeoutMs: 0 },
  );
  // Outside the lock: status reads a live lock holder as "still starting".
  return statusWorkspace(paths, workspaceId);
}

/**
 * Start the detached supervisor and wait until it serves clients, or report why it died. The
 * caller holds the workspace lock and hands it to the supervisor (its token), which records the
 * VM's state inside that lock.
 */
export async function startSupervisor(
  paths: PyroPaths,
  workspaceId: string,
  lock: LockHolder,
): Promise<void> {
  const files = workspaceFiles(paths, workspaceId);
  const log = openSync(files.supervisorLog, "a");
  const argv = [...supervisorNodeFlags(), supervisorScript(), paths.stateDir, workspaceId];
  const child = spawn(process.execPath, argv, {
    detached: true,
    stdio: ["ignore", log, log],
    env: {
      ...process.env,
      ...supervisorMallocEnv(),
      PYRO_CACHE_DIR: paths.cacheDir,
      [LOCK_TOKEN_ENV]: lock.token,
    },
  });
  closeSync(log);
  let exited = false;
  child.once("exit", () => (exited = true));
  child.unref();
  const deadline = Date.now() + supervisorStartMs();
  for (;;) {
    const record = await readRecord(paths, workspaceId);
    if (record.state === "started" && !exited) return;
    if (exited || record.state === "crashed") {
      const again = await readRecord(paths, workspaceId);
      const text = await fs.readFile(files.supervisorLog, "utf8").catch(() => "");
      throw new PyroError(
        "VM_BOOT_FAILED",
        `workspace VM failed to start: ${again.last_error ?? "its supervisor exited (see details.supervisor_log_tail)"}`,
        {
          hint: "Run `pyro doctor`; under software emulation a slow host may need PYRO_BOOT_TIMEOUT_SECONDS raised.",
          details: { supervisor_log_tail: text.trim().split("\n").slice(-20).join("\n") },
        },
      );
    }
    if (Date.now() > deadline) {
      await stopWorkspaceProcesses(paths, workspaceId);
      throw new PyroError("VM_BOOT_TIMEOUT", "workspace supervisor did not come up", {
        hint: "Under software emulation a slow host may need PYRO_BOOT_TIMEOUT_SECONDS raised; run `pyro doctor`.",
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Environment variable that hands the workspace lock's token to the supervisor at boot. */
export const LOCK_TOKEN_ENV = "PYRO_WORKSPACE_LOCK_TOKEN";

export { supervisorPid };

/** Stop the supervisor, QEMU and anything else running for the workspace; wait until all are gone. */
export async function stopSupervisor(paths: PyroPaths, workspaceId: string): Promise<void> {
  await stopWorkspaceProcesses(paths, workspaceId);
}

/**
 * The record with its state checked against reality: with no live supervisor, a workspace is
 * "starting" while a create or reset holds its lock, and "crashed" otherwise.
 */
export async function statusWorkspace(
  paths: PyroPaths,
  workspaceId: string,
): Promise<WorkspaceRecord> {
  const record = await readRecord(paths, workspaceId);
  if (record.state !== "started" && record.state !== "starting") return record;
  const files = workspaceFiles(paths, workspaceId);
  if ((await supervisorPid(paths, workspaceId)) !== undefined) return record;
  const holder = await liveLockHolder(files.lock);
  if (holder && (holder.operation === "create" || holder.operation === "reset")) {
    return { ...record, state: "starting" };
  }
  if (record.last_error) return { ...record, state: "crashed" };
  if (record.state === "starting") {
    return {
      ...record,
      state: "crashed",
      last_error: "a create or reset was interrupted before the VM came up",
    };
  }
  const tail = await fs.readFile(path.join(files.vmDir, "serial.log"), "utf8").catch(() => "");
  return {
    ...record,
    state: "crashed",
    last_error: `the workspace's VM is no longer running${tail ? `\n${tail.trimEnd().split("\n").slice(-10).join("\n")}` : ""}`,
  };
}

/**
 * A connection to a running workspace's supervisor, handshake done; a typed error naming the
 * recovery when the workspace is not running.
 */
export async function openSupervisorSocket(
  paths: PyroPaths,
  workspaceId: string,
): Promise<net.Socket> {
  const record = await statusWorkspace(paths, workspaceId);
  const notRunning = () =>
    record.state === "stopped"
      ? new PyroError("WORKSPACE_STOPPED", `workspace ${workspaceId} is stopped`, {
          hint: `Resume it with \`pyro workspace start ${workspaceId}\`, or reset it with \`pyro workspace reset ${workspaceId}\`.`,
        })
      : new PyroError(
          "WORKSPACE_NOT_RUNNING",
          `workspace ${workspaceId} is ${record.state}${record.last_error ? `: ${record.last_error.split("\n")[0]}` : ""}`,
          {
            hint: `Recover it with \`pyro workspace reset ${workspaceId}\`, or delete it with \`pyro workspace delete ${workspaceId}\`.`,
          },
        );
  if (record.state !== "started") throw notRunning();
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(workspaceFiles(paths, workspaceId).supervisorSocket);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  }).catch(() => {
    throw notRunning();
  });
  try {
    await greet(socket, 10_000);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
}

/** A client connection to a running workspace, through its supervisor. */
export async function connectWorkspace(
  paths: PyroPaths,
  workspaceId: string,
): Promise<AgentConnection> {
  return AgentConnection.attach(await openSupervisorSocket(paths, workspaceId), { workspaceId });
}

export interface DeletePayload {
  workspace_id: string;
  deleted: true;
}

/**
 * Delete a workspace: end everything that runs for it (found by its folder in their command
 * lines, not only by the pid file), then remove the folder. A corrupt record or the remains of a
 * killed create are deleted too; a missing folder is WORKSPACE_NOT_FOUND.
 */
export async function deleteWorkspace(
  paths: PyroPaths,
  workspaceId: string,
): Promise<DeletePayload> {
  checkWorkspaceId(workspaceId);
  if (!(await pathExists(workspaceFiles(paths, workspaceId).dir))) {
    await readRecord(paths, workspaceId); // throws the usual WORKSPACE_NOT_FOUND
  }
  await withWorkspaceLock(
    paths,
    workspaceId,
    () => removeWorkspace(paths, workspaceId, "delete"),
    lifecycleLock(paths, workspaceId, "delete"),
  );
  return { workspace_id: workspaceId, deleted: true };
}

/** Stop everything of the workspace and remove its folder; the caller holds the lock. */
async function removeWorkspace(
  paths: PyroPaths,
  workspaceId: string,
  reason: "delete" | "expired",
): Promise<void> {
  const record = await readRecord(paths, workspaceId).catch(() => undefined);
  await faultPoint("delete:locked", () => supervisorPid(paths, workspaceId));
  if (record) await writeStopReason(paths, workspaceId, reason, record.reset_count);
  await stopWorkspaceProcesses(paths, workspaceId);
  await faultPoint("delete:stopped");
  await fs.rm(workspaceFiles(paths, workspaceId).dir, { recursive: true, force: true });
}

/** Called by the supervisor when the TTL runs out, and by reapExpired. */
export async function expireWorkspace(paths: PyroPaths, workspaceId: string): Promise<void> {
  await withWorkspaceLock(
    paths,
    workspaceId,
    () => removeWorkspace(paths, workspaceId, "expired"),
    lifecycleLock(paths, workspaceId, "delete"),
  );
}

/**
 * Turn "the agent connection closed" into what happened when a reset or delete stopped the VM
 * on purpose while a call was running; other errors come back unchanged. `startedResetCount` is
 * the record's reset_count when the call began.
 */
export async function explainLostConnection(
  paths: PyroPaths,
  workspaceId: string,
  error: unknown,
  startedResetCount: number,
): Promise<unknown> {
  if (!(error instanceof PyroError) || error.code !== "VM_CRASHED") return error;
  const deleted = () =>
    new PyroError(
      "WORKSPACE_NOT_FOUND",
      `workspace ${workspaceId} was deleted while the command ran`,
      {
        hint: "Another client deleted it, or its TTL ran out; create a new workspace with `pyro workspace create`.",
      },
    );
  const record = await readRecord(paths, workspaceId).catch(() => undefined);
  if (!record) return deleted();
  const stop = await readStopReason(paths, workspaceId);
  if (stop && stop.reason !== "reset" && stop.reset_count >= startedResetCount) return deleted();
  if (
    record.reset_count > startedResetCount ||
    (stop?.reason === "reset" && stop.reset_count >= startedResetCount)
  ) {
    return new PyroError(
      "WORKSPACE_RESET",
      `workspace ${workspaceId} was reset while the command ran; the command did not finish`,
      { hint: "The workspace was reset by another client; re-run the command." },
    );
  }
  return error;
}

export interface WorkspaceListPayload {
  count: number;
  workspaces: Pick<
    WorkspaceRecord,
    "workspace_id" | "environment" | "state" | "created_at" | "expires_at" | "name" | "labels"
  >[];
  /** Folders that could not be read; reported, never crashed on. */
  unreadable: { workspace_id: string; problem: string }[];
}

export async function listWorkspaces(paths: PyroPaths): Promise<WorkspaceListPayload> {
  await reapExpired(paths);
  const payload: WorkspaceListPayload = { count: 0, workspaces: [], unreadable: [] };
  for (const name of await workspaceIds(paths)) {
    try {
      const r = await statusWorkspace(paths, name);
      payload.workspaces.push({
        workspace_id: r.workspace_id,
        environment: r.environment,
        state: r.state,
        created_at: r.created_at,
        expires_at: r.expires_at,
        name: r.name ?? null,
        labels: r.labels ?? {},
      });
    } catch (error) {
      // No record: a create in progress (skipped) or the remains of a killed one (removed).
      if (error instanceof PyroError && error.code === "WORKSPACE_NOT_FOUND") {
        await reapHalfCreated(paths, name);
        continue;
      }
      payload.unreadable.push({
        workspace_id: name,
        problem: error instanceof Error ? error.message : String(error),
      });
    }
  }
  payload.workspaces.sort((a, b) => a.created_at.localeCompare(b.created_at));
  payload.count = payload.workspaces.length;
  return payload;
}

/** Remove a folder that never became a workspace, unless its create still runs. */
async function reapHalfCreated(paths: PyroPaths, workspaceId: string): Promise<void> {
  const files = workspaceFiles(paths, workspaceId);
  await withWorkspaceLock(
    paths,
    workspaceId,
    async () => {
      if (await pathExists(files.record)) return;
      await stopWorkspaceProcesses(paths, workspaceId);
      await fs.rm(files.dir, { recursive: true, force: true });
    },
    { operation: "delete", timeoutMs: 0 },
  ).catch(() => undefined); // a live create holds the lock: not ours to touch
}

async function workspaceIds(paths: PyroPaths): Promise<string[]> {
  const entries = await fs.readdir(workspacesDir(paths), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && WORKSPACE_ID_PATTERN.test(e.name))
    .map((e) => e.name);
}

/** Stop and remove every workspace past its TTL (supervisors do it on time; this catches the rest). */
export async function reapExpired(paths: PyroPaths): Promise<string[]> {
  const reaped: string[] = [];
  for (const id of await workspaceIds(paths)) {
    const record = await readRecord(paths, id).catch(() => undefined);
    if (record && Date.parse(record.expires_at) <= Date.now()) {
      await expireWorkspace(paths, id);
      reaped.push(id);
    }
  }
  return reaped;
}
