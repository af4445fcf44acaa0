import { readFile } from "node:fs/promises";
import { processAlive } from "./fs.js";

/**
 * Fault injection for the crash-consistency tests: when PYRO_FAULT names a step, the process is
 * killed with SIGKILL right there; with PYRO_FAULT_KILL=supervisor the workspace's supervisor
 * (and with it QEMU) is killed instead, with PYRO_FAULT_KILL=qemu only its QEMU, and the step
 * goes on. Unset in normal use; a no-op costing one comparison.
 */
export async function faultPoint(
  step: string,
  supervisorPid?: () => Promise<number | undefined>,
): Promise<void> {
  if (process.env.PYRO_FAULT !== step) return;
  const target = process.env.PYRO_FAULT_KILL;
  if ((target === "supervisor" || target === "qemu") && supervisorPid) {
    const pid = await supervisorPid();
    if (pid !== undefined) {
      const victims = target === "supervisor" ? [pid] : await childPids(pid);
      for (const victim of victims) process.kill(victim, "SIGKILL");
      // Let the supervisor notice (a dead QEMU) or die (it and, by pdeathsig, QEMU) first.
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && processAlive(pid)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return;
  }
  process.kill(process.pid, "SIGKILL");
}

/** Direct children of a process (QEMU is its supervisor's child, spawned from its main thread). */
async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.split(/\s+/).filter(Boolean).map(Number);
}
