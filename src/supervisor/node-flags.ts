/**
 * How the per-workspace supervisor is started, chosen for host memory: one runs per workspace, so
 * what it keeps while idle counts once per workspace.
 *
 * - A small V8 young generation (`--max-semi-space-size=1`) and a capped old space: its buffers
 *   are small and bounded (output is flow-controlled).
 * - glibc malloc serves 8 KiB and larger blocks (output frames) with mmap, so they go back to the
 *   system when freed instead of leaving a fragmented heap after a burst of output (measured:
 *   45 MiB private after 80 MB of output with glibc's defaults, 29 MiB with these).
 *
 * `PYRO_SUPERVISOR_NODE_FLAGS` replaces the flags (empty string: Node's defaults) and
 * `PYRO_SUPERVISOR_MALLOC=0` leaves malloc alone, for comparison (bench/memory.ts).
 */
export const DEFAULT_SUPERVISOR_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--max-old-space-size=256",
  // For the collection after a burst of output (src/supervisor/idle-gc.ts).
  "--expose-gc",
];

export const SUPERVISOR_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "8192",
  MALLOC_TRIM_THRESHOLD_: "65536",
};

export function supervisorNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.PYRO_SUPERVISOR_NODE_FLAGS;
  if (raw === undefined) return [...DEFAULT_SUPERVISOR_NODE_FLAGS];
  return raw.split(/\s+/).filter((flag) => flag.startsWith("--"));
}

export function supervisorMallocEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return env.PYRO_SUPERVISOR_MALLOC === "0" ? {} : { ...SUPERVISOR_MALLOC_ENV };
}

/** The supervisor's own malloc settings must not reach QEMU, whose I/O buffers would pay for them. */
export function dropSupervisorMallocEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const key of Object.keys(SUPERVISOR_MALLOC_ENV)) delete env[key];
}
