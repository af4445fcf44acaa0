import { readFile } from "node:fs/promises";

/**
 * Fault injection for the crash-consistency tests: when PYRO_FAULT names a step, the process
 * (or, with PYRO_FAULT_KILL=supervisor, the workspace's supervisor and with it QEMU) is killed
 * with SIGKILL right there (PYRO_FAULT_KILL=qemu: only the supervisor's QEMU). Unset in normal use; a no-op costing one comparison.
 */
export async function faultPoint(
  step: string,
  supervisorPid?: () => Promise<number | undefined>,
): Promise<void> {
  if (process.env.PYRO_FAULT !== step) return;
  const target = process.env.PYRO_FAULT_KILL;
  if ((target === "supervisor" || target === "qemu") && supervisorPid) {
    const pid = await supervisorPid();
    const victims = pid === undefined ? [] : target === "qemu" ? await childPids(pid) : [pid];
    for (const victim of victims) process.kill(victim, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 300));
    return;
  }
  process.kill(process.pid, "SIGKILL");
}

async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.split(/\s+/).filter(Boolean).map(Number);
}
