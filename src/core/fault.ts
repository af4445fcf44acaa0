import fs from "node:fs/promises";

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
      while (Date.now() < deadline && alive(pid)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return;
  }
  process.kill(process.pid, "SIGKILL");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of a process (QEMU is its supervisor's child). */
async function childPids(parent: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await fs.readdir("/proc").catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // Field 4 (ppid) follows the parenthesised command name, which may itself hold spaces.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === parent) children.push(Number(entry));
  }
  return children;
}
