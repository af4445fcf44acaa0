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
import { launchVm } from "../core/vm-launch.js";
import { workspaceFiles } from "../core/workspace/layout.js";
import { readRecord, updateRecord } from "../core/workspace/record.js";
import { expireWorkspace, LOCK_TOKEN_ENV } from "../core/workspace/lifecycle.js";
import { inheritLock } from "../core/lock.js";
import { stopWorkspaceProcesses, supervisorClaimAddress } from "../core/workspace/processes.js";
import { serialTail } from "../runtime/qemu/vm.js";
import { Multiplexer } from "./mux.js";
import { SupervisorControl } from "./control.js";
import { dropSupervisorMallocEnv } from "./node-flags.js";

export const WORKSPACE_DISK_SERIAL = "pyro-workspace";
export const BASELINE_DISK_SERIAL = "pyro-baseline";

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
  let launched;
  try {
    launched = await launchVm(paths, {
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
  } catch (error) {
    const typed = toPyroError(error);
    await updateRecord(paths, workspaceId, (r) => {
      r.state = "crashed";
      r.last_error = `${typed.message}${typed.details?.serial_log_tail ? `\n${String(typed.details.serial_log_tail)}` : ""}`;
    });
    throw typed;
  }
  const { vm } = launched;
  let stopping = false;
  let brokenReason: string | undefined;

  const stop = async (reason: "shutdown" | "signal" | "expired"): Promise<never> => {
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
      return control.handle(client, frame);
    },
    (error) => {
      // A guest that breaks the protocol is not trusted further: say why, then stop its VM.
      brokenReason = `the guest agent broke the protocol: ${error.message}`;
      process.stderr.write(`supervisor: ${brokenReason}\n`);
      void vm.kill();
    },
  );
  // Shells and services: owned here, so they outlive every client and end with this process.
  const control = new SupervisorControl(mux, paths, workspaceId, vm.hello.capabilities);

  await fs.rm(files.supervisorSocket, { force: true });
  const server = net.createServer((socket) => mux.attach(socket));
  await new Promise<void>((resolve) => server.listen(files.supervisorSocket, resolve));
  await updateRecord(paths, workspaceId, (r) => {
    r.state = "started";
    r.last_error = null;
    r.accelerator = launched.accelerator.accelerator;
  });

  void vm.exited.then(async (exit) => {
    if (stopping) return;
    server.close();
    await fs.rm(files.supervisorSocket, { force: true });
    const tail = await serialTail(vm.serialLogPath);
    await updateRecord(paths, workspaceId, (r) => {
      r.state = "crashed";
      r.last_error = `${brokenReason ?? `the VM stopped unexpectedly (${exit.signal ?? `exit status ${exit.code}`})`}${tail ? `\n${tail}` : ""}`;
    }).catch(() => undefined);
    process.exit(1);
  });

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
