/**
 * Fault injection for the crash-consistency tests: when PYRO_FAULT names a step, the process
 * (or, with PYRO_FAULT_KILL=supervisor, the workspace's supervisor and with it QEMU) is killed
 * with SIGKILL right there. Unset in normal use; a no-op costing one comparison.
 */
export async function faultPoint(
  step: string,
  supervisorPid?: () => Promise<number | undefined>,
): Promise<void> {
  if (process.env.PYRO_FAULT !== step) return;
  if (process.env.PYRO_FAULT_KILL === "supervisor" && supervisorPid) {
    const pid = await supervisorPid();
    if (pid !== undefined) process.kill(pid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 300));
    return;
  }
  process.kill(process.pid, "SIGKILL");
}
