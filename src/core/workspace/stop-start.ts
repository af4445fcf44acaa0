import fs from "node:fs/promises";
import net from "node:net";
import { greet } from "../../protocol/client.js";
import path from "node:path";
import { encodeFrame } from "../../protocol/frame.js";
import { stateFileUsable } from "../../runtime/qemu/saved-state.js";
import { PyroError } from "../errors.js";
import { faultPoint } from "../fault.js";
import type { PyroPaths } from "../paths.js";
import { workspaceFiles } from "./layout.js";
import {
  openSupervisorSocket,
  startSupervisor,
  statusWorkspace,
  supervisorStartMs,
} from "./lifecycle.js";
import { supervisorPid } from "./processes.js";
import { materializeSecrets } from "./secrets.js";
import { readRecord, updateRecord, withWorkspaceLock, type WorkspaceRecord } from "./record.js";

/** Where the supervisor saves a stopped VM (src/supervisor/main.ts MEMORY_STATE_FILE). */
export function memoryStatePath(paths: PyroPaths, id: string): string {
  return path.join(workspaceFiles(paths, id).vmDir, "memory.state");
}

const STOP_DEADLINE_MS = 5 * 60_000;

/**
 * Stop a running workspace and keep it whole: its supervisor flushes the guest's file systems,
 * saves the VM (memory, processes, shells, services) beside its disks and ends QEMU. The
 * workspace is listed as `stopped`; its TTL still runs; `start` resumes it, `reset` and
 * `delete` work on it. Stopping a stopped workspace is a no-op.
 */
export async function stopWorkspace(paths: PyroPaths, id: string): Promise<WorkspaceRecord> {
  const before = await statusWorkspace(paths, id);
  if (before.state === "stopped") return before;
  await askSupervisor(paths, id, { type: "suspend" }, await openSupervisorSocket(paths, id));
  // The supervisor records the outcome (and ends, unless it keeps shells or services).
  const deadline = Date.now() + 30_000;
  let after = await statusWorkspace(paths, id);
  while (after.state === "started" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    after = await statusWorkspace(paths, id);
  }
  if (after.state !== "stopped") {
    throw new PyroError(
      "VM_SAVE_FAILED",
      `workspace ${id} could not be stopped: ${after.last_error?.split("\n")[0] ?? `it is ${after.state}`}`,
      { hint: `Recover it with \`pyro workspace reset ${id}\`.` },
    );
  }
  return after;
}

/**
 * Resume a stopped workspace where it was: the same VM, its processes, shells and services,
 * with the clock set and fresh entropy. Starting a running workspace is a no-op; a workspace
 * whose saved state is unusable is marked crashed and `reset` recovers it.
 */
export async function startWorkspace(paths: PyroPaths, id: string): Promise<WorkspaceRecord> {
  await readRecord(paths, id);
  await withWorkspaceLock(
    paths,
    id,
    async (holder) => {
      const record = await statusWorkspace(paths, id);
      if (record.state === "started" || record.state === "starting") return;
      if (record.state !== "stopped") {
        throw new PyroError(
          "WORKSPACE_NOT_RUNNING",
          `workspace ${id} is ${record.state}, not stopped`,
          {
            hint: `Only a stopped workspace can be started; recover this one with \`pyro workspace reset ${id}\`.`,
          },
        );
      }
      const problem = await stateFileUsable(
        memoryStatePath(paths, id),
        record.saved_state_bytes ?? -1,
      );
      if (problem) {
        await fs.rm(memoryStatePath(paths, id), { force: true });
        await updateRecord(paths, id, (r) => {
          r.state = "crashed";
          r.last_error = `cannot start: ${problem}`;
        });
        throw new PyroError(
          "WORKSPACE_NOT_RUNNING",
          `workspace ${id} cannot be started: ${problem}`,
          {
            hint: `Recover it with \`pyro workspace reset ${id}\` (processes are lost, /workspace is kept as of the chosen snapshot).`,
          },
        );
      }
      if ((await supervisorPid(paths, id)) !== undefined) {
        // Its supervisor kept the shells and services: it restores the VM and goes on.
        await askSupervisor(paths, id, { type: "resume", lock_token: holder.token });
        const after = await readRecord(paths, id);
        if (after.state !== "started") {
          throw new PyroError(
            "VM_BOOT_FAILED",
            `workspace ${id} could not be started: ${after.last_error?.split("\n")[0] ?? after.state}`,
            {
              hint: `Recover it with \`pyro workspace reset ${id}\`.`,
            },
          );
        }
        return;
      }
      await startSupervisor(paths, id, holder);
      // A restored guest still has its tmpfs; writing again is harmless and covers a cold boot.
      await materializeSecrets(paths, id);
    },
    { operation: "start", holdMs: supervisorStartMs() + 60_000, timeoutMs: supervisorStartMs() },
  );
  return statusWorkspace(paths, id);
}

/** Send the supervisor a stop or start request; it closes the connection when done. */
async function askSupervisor(
  paths: PyroPaths,
  id: string,
  header: Record<string, unknown>,
  open?: net.Socket,
): Promise<void> {
  const socket =
    open ??
    (await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(workspaceFiles(paths, id).supervisorSocket);
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    }));
  if (!open) await greet(socket, 10_000);
  const closed = new Promise<void>((resolve) => {
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
    socket.resume();
  });
  await new Promise<void>((resolve) => socket.write(encodeFrame(0, header), () => resolve()));
  // Kill tests: the CLI dies once the supervisor has the request; the supervisor finishes it.
  await faultPoint(`${String(header.type)}:requested`);
  const timer = setTimeout(() => socket.destroy(), STOP_DEADLINE_MS);
  await closed;
  clearTimeout(timer);
}
