import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { PyroError } from "../../core/errors.js";
import { greet } from "../../protocol/client.js";
import type { BootOptions, RunningVm, VmDriver, VmExit, VmPlan } from "../driver.js";
import { findTool, requireTool } from "../host-tools.js";
import { AGENT_SOCKET, buildQemuArgs, QMP_SOCKET, SERIAL_LOG } from "./args.js";
import { writeKernelStub } from "./kernel-stub.js";
import { runWhenLoaded } from "./saved-state.js";

const MAX_SOCKET_PATH = 100;

/** Last lines of a guest serial log, for error reports. */
export async function serialTail(logPath: string, lines = 20): Promise<string> {
  const text = await fs.readFile(logPath, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Spawn QEMU so that it dies with its parent: no VM outlives the process that owns it. */
export function spawnQemu(args: string[]): ChildProcess {
  const qemu = requireTool("qemu");
  const setpriv = findTool("setpriv");
  const [command, argv] = setpriv
    ? [setpriv, ["--pdeathsig", "KILL", "--", qemu, ...args]]
    : [qemu, args];
  return spawn(command, argv, { stdio: ["ignore", "ignore", "pipe"] });
}

export class QemuDriver implements VmDriver {
  readonly name = "qemu";

  async boot(plan: VmPlan, options: BootOptions): Promise<RunningVm> {
    const socketPath = path.join(plan.runDir, AGENT_SOCKET);
    if (socketPath.length > MAX_SOCKET_PATH || /[,\s]/.test(plan.runDir)) {
      throw new PyroError("INVALID_ARGUMENT", `state directory path unusable: ${plan.runDir}`, {
        hint: "Use a shorter PYRO_HOME without commas or spaces.",
      });
    }
    const serialLogPath = path.join(plan.runDir, SERIAL_LOG);
    const stub =
      plan.incomingStatePath && process.env.PYRO_RESTORE_KERNEL_STUB !== "0"
        ? await writeKernelStub(plan.kernelPath, plan.runDir).catch(() => undefined)
        : undefined;
    const child = spawnQemu(buildQemuArgs(stub ? { ...plan, incomingKernelStub: stub } : plan));
    let stderr = "";
    child.stderr?.on("data", (data: Buffer) => {
      if (stderr.length < 8192) stderr += data.toString("utf8");
    });
    const exited = new Promise<VmExit>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: null, signal: null }));
    });
    let gone = false;
    void exited.then(() => (gone = true));
    const kill = async (): Promise<void> => {
      if (!gone) child.kill("SIGKILL");
      await exited;
    };

    const failure = async (code: "VM_BOOT_FAILED" | "VM_BOOT_TIMEOUT", message: string) => {
      await kill();
      const tail = await serialTail(serialLogPath);
      return new PyroError(code, message, {
        hint:
          code === "VM_BOOT_TIMEOUT"
            ? "The guest did not start in time; under software emulation raise PYRO_BOOT_TIMEOUT_SECONDS, or run `pyro doctor`."
            : "Run `pyro doctor` and check the guest log below.",
        details: { serial_log_tail: tail, qemu_stderr: stderr.trim() },
      });
    };

    const deadline = Date.now() + options.bootTimeoutMs;
    try {
      const socket = await connectWhenReady(socketPath, deadline, exited, options.signal);
      if (plan.incomingStatePath) {
        await Promise.race([
          runWhenLoaded(path.join(plan.runDir, QMP_SOCKET), deadline),
          exited.then((exit) => {
            throw new PyroError(
              "VM_BOOT_FAILED",
              `QEMU exited while loading the saved state (${exit.signal ?? `status ${exit.code}`})`,
            );
          }),
        ]);
      }
      if (options.continueSession) {
        const hello = { protocol: 0, agentVersion: "", capabilities: [] };
        return { pid: child.pid ?? -1, socket, hello, serialLogPath, exited, kill };
      }
      const hello = await Promise.race([
        greet(socket, Math.max(1, deadline - Date.now()), {
          skipChannelFrames: plan.incomingStatePath !== undefined,
        }),
        exited.then((exit) => {
          throw new PyroError(
            "VM_BOOT_FAILED",
            `QEMU exited during boot (${exit.signal ?? `status ${exit.code}`})`,
          );
        }),
        abortPromise(options.signal),
      ]);
      return { pid: child.pid ?? -1, socket, hello, serialLogPath, exited, kill };
    } catch (error) {
      if (error instanceof PyroError && error.code === "CANCELLED") {
        await kill();
        throw error;
      }
      if (error instanceof PyroError && error.code === "VM_BOOT_TIMEOUT") {
        throw await failure(
          "VM_BOOT_TIMEOUT",
          `the VM did not boot within ${options.bootTimeoutMs} ms`,
        );
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw await failure("VM_BOOT_FAILED", `the VM failed to boot: ${reason}`);
    }
  }
}

function abortPromise(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (!signal) return;
    const onAbort = () => reject(new PyroError("CANCELLED", "cancelled while the VM was booting"));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** QEMU creates the agent socket shortly after it starts; connect as soon as it exists. */
async function connectWhenReady(
  socketPath: string,
  deadline: number,
  exited: Promise<VmExit>,
  signal: AbortSignal | undefined,
): Promise<net.Socket> {
  let done = false;
  void exited.then(() => (done = true));
  for (;;) {
    if (signal?.aborted) throw new PyroError("CANCELLED", "cancelled while the VM was booting");
    if (done) throw new Error("QEMU exited before its agent socket appeared");
    if (Date.now() > deadline)
      throw new PyroError("VM_BOOT_TIMEOUT", "agent socket never appeared");
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(socketPath);
        socket.once("connect", () => {
          socket.removeAllListeners("error");
          // The owner watches "close"; an error (the VM killed under us) must not crash the host.
          socket.on("error", () => socket.destroy());
          resolve(socket);
        });
        socket.once("error", reject);
      });
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
