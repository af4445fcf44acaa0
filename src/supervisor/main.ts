/**
 * The workspace supervisor: one small detached host process per running workspace. It boots the
 * VM, owns the QEMU process (which dies with it), keeps the single agent connection and lets any
 * number of clients (CLI calls, SDK programs, MCP servers) share it, enforces the TTL, and records
 * an honest state in workspace.json when the VM dies.
 *
 * Usage (internal): node supervisor/main.js <state-dir> <workspace-id>
 */
import fs from "node:fs/promises";
import net from "node:net";
import { ensureEnvironment } from "../core/environments.js";
import { toPyroError } from "../core/errors.js";
import { resolvePaths } from "../core/paths.js";
import {
  BASELINE_DISK_SERIAL,
  freshSetup,
  launchVm,
  resumeSession,
  resumeVm,
  WORKSPACE_DISK_SERIAL,
  type LaunchedVm,
} from "../core/vm-launch.js";
import { saveVmState } from "../runtime/qemu/saved-state.js";
import { QMP_SOCKET } from "../runtime/qemu/args.js";
import { withWorkspaceLock } from "../core/workspace/record.js";
import { workspaceFiles } from "../core/workspace/layout.js";
import { readRecord, updateRecord } from "../core/workspace/record.js";
import { expireWorkspace, LOCK_TOKEN_ENV } from "../core/workspace/lifecycle.js";
import { inheritLock } from "../core/lock.js";
import { faultPoint } from "../core/fault.js";
import { stopWorkspaceProcesses, supervisorClaimAddress } from "../core/workspace/processes.js";
import { serialTail } from "../runtime/qemu/vm.js";
import { agentRunner } from "./freeze.js";
import { setupThroughMux } from "./guest-setup.js";
import { collectWhenIdle } from "./idle-gc.js";
import { Multiplexer } from "./mux.js";
import { SupervisorControl } from "./control.js";
import path from "node:path";
import { dropSupervisorMallocEnv } from "./node-flags.js";
import { PortForwarder } from "./port-forwarder.js";
import { adoptHostState, takeFullSnapshot } from "./full-snapshot.js";
import { readRestorePlan, type PendingRestore } from "./restore-plan.js";

export { BASELINE_DISK_SERIAL, WORKSPACE_DISK_SERIAL };
/** Where `workspace stop` keeps the VM's saved state (in vm/, so reset throws it away). */
export const MEMORY_STATE_FILE = "memory.state";

async function main(): Promise<void> {
  const [stateDir, workspaceId] = process.argv.slice(2);
  if (!stateDir || !workspaceId) throw new Error("usage: supervisor <state-dir> <workspace-id>");
  process.env.PYRO_STATE_DIR = stateDir;
  dropSupervisorMallocEnv();
  const paths = resolvePaths();
  const files = workspaceFiles(paths, workspaceId);
  // One supervisor per workspace: a second one (a race the lock should prevent) stops here,
  // before it touches the record, the pid file or the disks.
  await claimWorkspace(supervisorClaimAddress(paths, workspaceId));
  const token = process.env[LOCK_TOKEN_ENV];
  if (token) inheritLock(files.lock, token);
  delete process.env[LOCK_TOKEN_ENV];
  const record = await readRecord(paths, workspaceId);
  // A QEMU left by a supervisor that died without taking it along would hold the disks.
  await stopWorkspaceProcesses(paths, workspaceId);
  await fs.writeFile(files.supervisorPid, String(process.pid));

  const environment = await ensureEnvironment(paths, record.environment);
  await fs.mkdir(files.vmDir, { recursive: true });
  let launched: Pick<LaunchedVm, "vm" | "bootPath" | "bootNote"> & { accelerator: string | null };
  const statePath = path.join(files.vmDir, MEMORY_STATE_FILE);
  let restoring: PendingRestore | undefined;
  try {
    restoring = await readRestorePlan(files.vmDir);
    if (restoring) {
      // Reset to, or fork from, a full snapshot: that VM, its processes, shells and services.
      const resumed = await resumeVm(files.vmDir, restoring.statePath, restoring.identity);
      launched = {
        vm: resumed.vm,
        bootPath: "warm",
        bootNote: null,
        accelerator: resumed.plan.accelerator,
      };
    } else if (record.state === "stopped") {
      // `workspace start`: the VM `workspace stop` saved, with its processes and shells.
      const resumed = await resumeVm(files.vmDir, statePath);
      await fs.rm(statePath, { force: true });
      launched = {
        vm: resumed.vm,
        bootPath: "warm",
        bootNote: null,
        accelerator: resumed.plan.accelerator,
      };
    } else {
      const cold = await launchVm(paths, {
        environment,
        runDir: files.vmDir,
        vcpuCount: record.vcpu_count,
        memMib: record.mem_mib,
        network: record.network,
        extra: {
          workspaceDisk: {
            serial: WORKSPACE_DISK_SERIAL,
            path: files.workspaceDisk,
            format: "qcow2",
            readOnly: false,
          },
          baselineDisk: {
            serial: BASELINE_DISK_SERIAL,
            path: files.baseline,
            format: "raw",
            readOnly: true,
          },
        },
      });
      launched = { ...cold, accelerator: cold.accelerator.accelerator };
    }
  } catch (error) {
    const typed = toPyroError(error);
    await updateRecord(paths, workspaceId, (r) => {
      r.state = "crashed";
      r.last_error = `${typed.message}${typed.details?.serial_log_tail ? `\n${String(typed.details.serial_log_tail)}` : ""}`;
    });
    throw typed;
  }
  let vm = launched.vm;
  let stopping = false;
  let suspended = false;
  let brokenReason: string | undefined;

  const stop = async (reason: "shutdown" | "signal" | "expired" | "suspended"): Promise<never> => {
    stopping = true;
    server.close();
    await vm.kill();
    await fs.rm(files.supervisorSocket, { force: true });
    if (reason === "expired") await expireWorkspace(paths, workspaceId);
    process.exit(0);
  };

  const mux: Multiplexer = new Multiplexer(
    vm.socket,
    { agent_version: vm.hello.agentVersion, capabilities: vm.hello.capabilities },
    (client, frame): boolean => {
      if (frame.header.type === "shutdown") {
        client.socket.end();
        void stop("shutdown");
        return true;
      }
      // The client learns the outcome of a stop or start from the record once this closes.
      if (frame.header.type === "suspend") {
        void suspend().finally(() => client.socket.end());
        return true;
      }
      if (frame.header.type === "resume") {
        const token = frame.header.lock_token;
        if (typeof token === "string") inheritLock(files.lock, token);
        void resume().finally(() => client.socket.end());
        return true;
      }
      return control.handle(client, frame);
    },
    (error) => {
      // A guest that breaks the protocol is not trusted further: say why, then stop its VM.
      brokenReason = `the guest agent broke the protocol: ${error.message}`;
      process.stderr.write(`supervisor: ${brokenReason}\n`);
      void vm.kill();
    },
  );
  collectWhenIdle(() => mux.bytesFromAgent);

  /** Record an honest state when the current VM dies without being asked to. */
  const watch = (current: typeof vm): void => {
    void current.exited.then(async (exit) => {
      if (stopping || suspended || current !== vm) return;
      server.close();
      await fs.rm(files.supervisorSocket, { force: true });
      const tail = await serialTail(current.serialLogPath);
      await updateRecord(paths, workspaceId, (r) => {
        r.state = "crashed";
        r.last_error = `${brokenReason ?? `the VM stopped unexpectedly (${exit.signal ?? `exit status ${exit.code}`})`}${tail ? `\n${tail}` : ""}`;
      }).catch(() => undefined);
      process.exit(1);
    });
  };

  /**
   * `workspace stop`: flush the guest's file systems (so offline disk tools see them whole),
   * save the whole VM next to its disks, record `stopped` and end QEMU. Without shells or
   * services this process ends too; with them it stays (QEMU gone) to keep their tables and
   * buffers for `start`, which then goes on with the same agent session. Done here, under the
   * workspace lock, so a client that goes away mid-way changes nothing: a kill of QEMU or of
   * this process leaves a record `crashed` that reset recovers.
   */
  let suspending: Promise<void> | undefined;
  const suspend = (): Promise<void> =>
    (suspending ??= withWorkspaceLock(
      paths,
      workspaceId,
      async () => {
        await agentRunner(mux, workspaceId)(["/bin/sync"], 30_000).catch(() => undefined);
        await faultPoint("stop:synced", () => Promise.resolve(process.pid));
        await saveVmState(path.join(files.vmDir, QMP_SOCKET), statePath);
        const saved = await fs.stat(statePath);
        await faultPoint("stop:saved", () => Promise.resolve(process.pid));
        suspended = true;
        mux.suspendAgent();
        await vm.kill();
        control.services.dropPublished();
        await updateRecord(paths, workspaceId, (r) => {
          r.state = "stopped";
          r.saved_state_bytes = saved.size;
        });
      },
      { operation: "stop", holdMs: 5 * 60_000 },
    )
      .then(
        async () => {
          if (control.shells.size === 0 && control.services.size === 0) await stop("suspended");
        },
        (error: unknown) => {
          // QEMU is paused or gone: the workspace cannot go on; reset recovers it.
          brokenReason = `workspace stop failed: ${toPyroError(error).message}`;
          suspended = false;
          void vm.kill();
        },
      )
      .finally(() => (suspending = undefined)));

  /** `workspace start` of the VM this process saved (the caller holds the lock, handed over). */
  const resume = async (): Promise<void> => {
    if (!suspended) return;
    try {
      await faultPoint("start:resuming", () => Promise.resolve(process.pid));
      const next = await resumeSession(files.vmDir, statePath);
      vm = next;
      mux.resumeAgent(next.socket);
      watch(next);
      suspended = false;
      await setupThroughMux(mux, freshSetup());
      await fs.rm(statePath, { force: true });
      await updateRecord(paths, workspaceId, (r) => {
        r.state = "started";
        r.last_error = null;
        r.boot_path = "warm";
        r.boot_note = null;
        r.saved_state_bytes = null;
      });
    } catch (error) {
      suspended = false;
      brokenReason = `workspace start failed: ${toPyroError(error).message}`;
      await updateRecord(paths, workspaceId, (r) => {
        r.state = "crashed";
        r.last_error = brokenReason ?? null;
      }).catch(() => undefined);
      await stop("shutdown");
    }
  };

  // Shells and services: owned here, so they outlive every client and end with this process.
  const control = new SupervisorControl(
    mux,
    paths,
    workspaceId,
    vm.hello.capabilities,
    record.network_policy === "egress+published-ports"
      ? new PortForwarder(path.join(files.vmDir, QMP_SOCKET))
      : null,
  );
  control.fullSnapshot = (body) => takeFullSnapshot({ mux, control, files, workspaceId }, body);
  if (restoring) {
    adoptHostState({ mux, control, workspaceId }, restoring.host);
    await restoring.done();
  }

  await fs.rm(files.supervisorSocket, { force: true });
  const server = net.createServer((socket) => mux.attach(socket));
  await new Promise<void>((resolve) => server.listen(files.supervisorSocket, resolve));
  await updateRecord(paths, workspaceId, (r) => {
    r.state = "started";
    r.last_error = null;
    r.accelerator = launched.accelerator;
    r.boot_path = launched.bootPath;
    r.boot_note = launched.bootNote;
    r.saved_state_bytes = null;
    if (restoring) {
      const counts = control.services.counts();
      r.service_count = counts.service_count;
      r.running_service_count = counts.running_count;
    }
  });

  watch(vm);

  const expiresIn = Date.parse(record.expires_at) - Date.now();
  setTimeout(() => void stop("expired"), Math.max(0, Math.min(expiresIn, 2 ** 31 - 1)));
  process.on("SIGTERM", () => void stop("signal"));
  process.on("SIGINT", () => void stop("signal"));
}

/** Bind the workspace's abstract socket: held while this process lives, freed by the kernel. */
async function claimWorkspace(address: string): Promise<net.Server> {
  const claim = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    claim.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error("another supervisor already runs for this workspace")
          : error,
      ),
    );
    claim.listen(address, resolve);
  });
  claim.unref();
  return claim;
}

main().catch((error: unknown) => {
  process.stderr.write(`supervisor: ${toPyroError(error).message}\n`);
  process.exit(1);
});
