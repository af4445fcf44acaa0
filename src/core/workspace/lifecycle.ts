import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULTS } from "../../contract.js";
import { AgentConnection, greet } from "../../protocol/client.js";
import { catalogEntry } from "../../environments/catalog.js";
import { ensureEnvironment } from "../environments.js";
import { PyroError } from "../errors.js";
import { readPidFile } from "../fs.js";
import { packageRoot, type PyroPaths } from "../paths.js";
import { checkRange } from "../validate.js";
import {
  workspaceFiles,
  workspacesDir,
  WORKSPACE_GUEST_PATH,
  WORKSPACE_ID_PATTERN,
} from "./layout.js";
import {
  readRecord,
  RECORD_SCHEMA_VERSION,
  withWorkspaceLock,
  writeRecord,
  type WorkspaceRecord,
} from "./record.js";
import { buildBaseline } from "./seed.js";
import { createOverlay } from "../../runtime/qemu/img.js";
import { markBaseline } from "./snapshots.js";

export interface CreateWorkspaceOptions {
  environment: string;
  vcpuCount?: number;
  memMib?: number;
  ttlSeconds?: number;
  network?: boolean;
  seedPath?: string;
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

/**
 * Create and start a workspace: build the baseline from the seed, put the /workspace overlay on
 * it, start the supervisor that boots the VM, and wait until the agent answers. If anything fails
 * the folder is removed: a failed create leaves nothing behind.
 */
export async function createWorkspace(
  paths: PyroPaths,
  options: CreateWorkspaceOptions,
): Promise<WorkspaceRecord> {
  catalogEntry(options.environment);
  const vcpuCount = checkRange("vcpuCount", options.vcpuCount ?? DEFAULTS.vcpuCount);
  const memMib = checkRange("memMib", options.memMib ?? DEFAULTS.memMib);
  const ttlSeconds = checkRange("ttlSeconds", options.ttlSeconds ?? DEFAULTS.ttlSeconds);
  await reapExpired(paths);
  await ensureEnvironment(paths, options.environment);

  const workspaceId = randomBytes(6).toString("hex");
  const files = workspaceFiles(paths, workspaceId);
  await fs.mkdir(files.dir, { recursive: true });
  try {
    const staging = path.join(files.dir, "seed-staging");
    const seed = await buildBaseline(options.seedPath, staging, files.baseline);
    await fs.rm(staging, { recursive: true, force: true });
    await fs.chmod(files.baseline, 0o444);
    await createOverlay(files.baseline, files.workspaceDisk);
    const now = new Date();
    await markBaseline(paths, workspaceId, {
      created_at: now.toISOString(),
      entry_count: seed.entry_count,
      bytes_written: seed.bytes_written,
    });
    const record: WorkspaceRecord = {
      schema_version: RECORD_SCHEMA_VERSION,
      workspace_id: workspaceId,
      environment: options.environment,
      state: "starting",
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
      execution_mode: "guest_agent",
      accelerator: null,
      service_count: 0,
      running_service_count: 0,
    };
    await writeRecord(paths, record);
    await startSupervisor(paths, workspaceId);
    return await readRecord(paths, workspaceId);
  } catch (error) {
    await stopSupervisor(paths, workspaceId);
    await fs.rm(files.dir, { recursive: true, force: true });
    throw error;
  }
}

/** Start the detached supervisor and wait until it serves clients, or report why it died. */
export async function startSupervisor(paths: PyroPaths, workspaceId: string): Promise<void> {
  const files = workspaceFiles(paths, workspaceId);
  const log = openSync(files.supervisorLog, "a");
  const child = spawn(process.execPath, [supervisorScript(), paths.stateDir, workspaceId], {
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, PYRO_CACHE_DIR: paths.cacheDir },
  });
  closeSync(log);
  let exited = false;
  child.once("exit", () => (exited = true));
  child.unref();
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const record = await readRecord(paths, workspaceId);
    if (record.state === "started") return;
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
    if (Date.now() > deadline)
      throw new PyroError("VM_BOOT_TIMEOUT", "workspace supervisor did not come up");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Pid of the workspace's live supervisor, or undefined. */
export async function supervisorPid(
  paths: PyroPaths,
  workspaceId: string,
): Promise<number | undefined> {
  const pid = await readPidFile(workspaceFiles(paths, workspaceId).supervisorPid);
  if (pid === undefined) return undefined;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("supervisor") && cmdline.includes(workspaceId) ? pid : undefined;
}

/** Stop the supervisor (and with it QEMU) and wait until it is gone. */
export async function stopSupervisor(paths: PyroPaths, workspaceId: string): Promise<void> {
  const pid = await supervisorPid(paths, workspaceId);
  if (pid === undefined) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 10_000;
  while ((await supervisorPid(paths, workspaceId)) !== undefined) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The record with its state checked against reality: a workspace whose supervisor died is crashed. */
export async function statusWorkspace(
  paths: PyroPaths,
  workspaceId: string,
): Promise<WorkspaceRecord> {
  const record = await readRecord(paths, workspaceId);
  // "starting" with a supervisor that was started and is gone (a reset killed mid-way) is crashed too.
  const supervisorWasStarted =
    record.state === "started" ||
    (record.state === "starting" &&
      (await fs.stat(workspaceFiles(paths, workspaceId).supervisorPid).then(
        () => true,
        () => false,
      )));
  if (supervisorWasStarted && (await supervisorPid(paths, workspaceId)) === undefined) {
    const tail = await fs
      .readFile(path.join(workspaceFiles(paths, workspaceId).vmDir, "serial.log"), "utf8")
      .catch(() => "");
    return {
      ...record,
      state: "crashed",
      last_error:
        record.last_error ??
        `the workspace's VM is no longer running${tail ? `\n${tail.trimEnd().split("\n").slice(-10).join("\n")}` : ""}`,
    };
  }
  return record;
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
    new PyroError(
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
  return AgentConnection.attach(await openSupervisorSocket(paths, workspaceId));
}

export interface DeletePayload {
  workspace_id: string;
  deleted: true;
}

export async function deleteWorkspace(
  paths: PyroPaths,
  workspaceId: string,
): Promise<DeletePayload> {
  await readRecord(paths, workspaceId).catch(async (error: unknown) => {
    // A corrupt record can still be deleted; an absent one cannot.
    if (error instanceof PyroError && error.code === "WORKSPACE_CORRUPT") return;
    throw error;
  });
  await withWorkspaceLock(paths, workspaceId, async () => {
    await stopSupervisor(paths, workspaceId);
    await fs.rm(workspaceFiles(paths, workspaceId).dir, { recursive: true, force: true });
  });
  return { workspace_id: workspaceId, deleted: true };
}

/** Called by the supervisor when the TTL runs out, and by reapExpired. */
export async function expireWorkspace(paths: PyroPaths, workspaceId: string): Promise<void> {
  await withWorkspaceLock(paths, workspaceId, async () => {
    await fs.rm(workspaceFiles(paths, workspaceId).dir, { recursive: true, force: true });
  });
}

export interface WorkspaceListPayload {
  count: number;
  workspaces: Pick<
    WorkspaceRecord,
    "workspace_id" | "environment" | "state" | "created_at" | "expires_at"
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
      });
    } catch (error) {
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
      await stopSupervisor(paths, id);
      await expireWorkspace(paths, id);
      reaped.push(id);
    }
  }
  return reaped;
}
