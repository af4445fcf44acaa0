import { existsSync } from "node:fs";

/**
 * How the per-workspace supervisor is started, chosen for host memory: one runs per workspace, so
 * what it keeps while idle counts once per workspace.
 *
 * - A small V8 young generation (`--max-semi-space-size=1`) and a capped old space: its buffers
 *   are small and bounded (output is flow-controlled).
 * - jemalloc (Debian's libjemalloc2, preloaded) with a background thread that returns freed
 *   pages within a second: after a burst of output glibc's heap stays fragmented at its peak
 *   (measured: 26 MiB private after 80 MB relayed and a collection; jemalloc 14 MiB, the same as
 *   before the burst). Without jemalloc, glibc serves 8 KiB and larger blocks with mmap, which
 *   limits the damage (45 MiB with glibc's defaults).
 *
 * `PYRO_SUPERVISOR_NODE_FLAGS` replaces the flags (empty string: Node's defaults);
 * `PYRO_SUPERVISOR_MALLOC=glibc` uses the glibc settings and `0` leaves malloc alone, for
 * comparison (bench/memory.ts).
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

/** Purge freed pages after a second, from a background thread, so an idle process gives back. */
export const JEMALLOC_CONF =
  "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1";

const JEMALLOC_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
  "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
  "/usr/lib/libjemalloc.so.2",
];

export function findJemalloc(exists: (file: string) => boolean = existsSync): string | undefined {
  return JEMALLOC_PATHS.find((file) => exists(file));
}

export function supervisorMallocEnv(
  env: NodeJS.ProcessEnv = process.env,
  locate: () => string | undefined = findJemalloc,
): Record<string, string> {
  const choice = env.PYRO_SUPERVISOR_MALLOC;
  if (choice === "0") return {};
  const jemalloc = choice === "glibc" ? undefined : locate();
  if (jemalloc) {
    return { LD_PRELOAD: jemalloc, MALLOC_CONF: JEMALLOC_CONF };
  }
  return { ...SUPERVISOR_MALLOC_ENV };
}

/**
 * The supervisor's own allocator and its settings must not reach QEMU or the tools it runs:
 * QEMU's I/O buffers would pay for them. Called first thing in the supervisor.
 */
export function dropSupervisorMallocEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const key of [...Object.keys(SUPERVISOR_MALLOC_ENV), "MALLOC_CONF"]) delete env[key];
  if (env.LD_PRELOAD && /libjemalloc/.test(env.LD_PRELOAD)) delete env.LD_PRELOAD;
}
