import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { WorkspaceManager } from "../src/core/manager.js";
import { workspaceFiles } from "../src/core/workspace/layout.js";
import { fmt, median, p95, timed } from "./stats.js";

/**
 * Host memory of an idle workspace beyond its guest RAM, old settings against new in one run.
 *
 *   guest used   = guest RAM - the guest's MemFree (kernel, page cache, processes: all of it)
 *   beyond guest = QEMU RSS - guest used + supervisor RSS
 *
 * Before the idle wait each workspace runs exec loops and prints 80 MB (a build log's worth).
 * RSS counts the QEMU and node binaries' file pages, which every workspace shares; "unique" uses
 * each process's private pages instead (what one more workspace adds). Each configuration also
 * times `run -- true` and an exec loop, so a smaller TCG cache that costs speed shows here.
 *
 * Usage: npx tsx bench/memory.ts [--mem-mib N] [--idle-seconds N] [--sweep | --only old,new,tb-size 16]
 * (--sweep adds TCG cache sizes 8, 16 and 64 MiB, and the new settings without the balloon.)
 */
interface Config {
  name: string;
  env: Record<string, string>;
}

const OLD: Config = {
  name: "old (2.8 settings)",
  env: {
    PYRO_TCG_TB_SIZE_MIB: "0",
    PYRO_BALLOON: "0",
    PYRO_SUPERVISOR_NODE_FLAGS: "",
    PYRO_SUPERVISOR_MALLOC: "0",
  },
};
const NEW: Config = { name: "new (defaults)", env: {} };
/** The settings of the first memory pass (2.8 + warm starts), before the kernel stub and idle GC. */
const BEFORE: Config = {
  name: "before (first pass)",
  env: {
    PYRO_RESTORE_KERNEL_STUB: "0",
    PYRO_PAGE_REPORTING_ORDER: "",
    PYRO_SUPERVISOR_NODE_FLAGS: "--max-semi-space-size=1 --max-old-space-size=256",
    PYRO_SUPERVISOR_MALLOC: "glibc",
  },
};
const SWEEP: Config[] = [
  { name: "tb-size 8", env: { PYRO_TCG_TB_SIZE_MIB: "8" } },
  { name: "tb-size 16", env: { PYRO_TCG_TB_SIZE_MIB: "16" } },
  { name: "tb-size 24", env: { PYRO_TCG_TB_SIZE_MIB: "24" } },
  { name: "tb-size 64", env: { PYRO_TCG_TB_SIZE_MIB: "64" } },
  { name: "no balloon", env: { PYRO_BALLOON: "0" } },
  { name: "no kernel stub", env: { PYRO_RESTORE_KERNEL_STUB: "0" } },
  { name: "reporting 2 MiB blocks", env: { PYRO_PAGE_REPORTING_ORDER: "" } },
  { name: "glibc malloc", env: { PYRO_SUPERVISOR_MALLOC: "glibc" } },
];

const arg = (flag: string, fallback: number) => {
  const at = process.argv.indexOf(flag);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const memMib = arg("--mem-mib", 1024);
const idleSeconds = arg("--idle-seconds", 15);
const only = process.argv.includes("--only")
  ? (process.argv[process.argv.indexOf("--only") + 1] ?? "").split(",")
  : undefined;
const all = process.argv.includes("--sweep") ? [OLD, BEFORE, NEW, ...SWEEP] : [OLD, BEFORE, NEW];
const configs = only
  ? [OLD, BEFORE, NEW, ...SWEEP].filter((c) => only.some((o) => c.name.startsWith(o)))
  : all;

interface Mem {
  rss: number;
  unique: number;
}

/** Resident and private (unique) KiB of one process, from smaps_rollup. */
function memOf(pid: number): Mem {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { rss: kb("Rss"), unique: kb("Private_Clean") + kb("Private_Dirty") };
}

function qemuPid(dir: string): number {
  for (const name of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    const cmd = (() => {
      try {
        return readFileSync(`/proc/${name}/cmdline`, "utf8");
      } catch {
        return "";
      }
    })();
    if (cmd.startsWith(`qemu-system`) || cmd.includes("/qemu-system")) {
      if (cmd.includes(dir)) return Number(name);
    }
  }
  throw new Error(`no QEMU for ${dir}`);
}

const mib = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;

/** Run `action` with a configuration's environment overrides in place. */
async function withEnv<T>(config: Config, action: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, config.env);
  try {
    return await action();
  } finally {
    for (const key of Object.keys(config.env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

interface Sample {
  config: Config;
  id: string;
  runs: number[];
  execTrue: number[];
  execGit: number[];
}

/**
 * All configurations run side by side and their timings are interleaved round by round, so a
 * busy host slows each of them alike and the comparison stays fair.
 */
async function main(): Promise<void> {
  const manager = new WorkspaceManager();
  const samples: Sample[] = [];
  try {
    for (const config of configs) {
      const ws = await withEnv(config, () =>
        manager.createWorkspace({ environment: "debian:12", memMib }),
      );
      samples.push({ config, id: ws.workspace_id, runs: [], execTrue: [], execGit: [] });
    }
    for (let round = 0; round < 3; round += 1) {
      for (const s of samples) {
        s.runs.push(
          await withEnv(s.config, () =>
            timed(() => manager.runInVm({ environment: "debian:12", command: "true", memMib })),
          ),
        );
      }
    }
    for (let round = 0; round < 20; round += 1) {
      for (const s of samples) {
        s.execTrue.push(await timed(() => manager.execWorkspace(s.id, { command: "true" })));
        if (round % 2 === 0) {
          const git =
            "git --version >/dev/null && ls -la /usr/bin >/dev/null && sort /etc/services >/dev/null";
          s.execGit.push(await timed(() => manager.execWorkspace(s.id, { command: git })));
        }
      }
    }
    // A burst of output through the supervisor (80 MB), as a build log would give.
    for (const s of samples) {
      await manager.execWorkspace(s.id, {
        command: "head -c 60000000 /dev/zero | base64 -w 100",
        onStdout: () => undefined,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    for (const s of samples) {
      const files = workspaceFiles(manager.paths, s.id);
      const meminfo = (await manager.execWorkspace(s.id, { command: "cat /proc/meminfo" })).stdout;
      const free = Number(/^MemFree:\s+(\d+)/m.exec(meminfo)?.[1]);
      const guestUsed = memMib * 1024 - free;
      const qemu = memOf(qemuPid(files.dir));
      const supervisor = memOf(Number(readFileSync(files.supervisorPid, "utf8").trim()));
      console.log(
        [
          `${s.config.name} ${JSON.stringify(s.config.env)}, ${memMib} MiB guest, idle ${idleSeconds} s:`,
          `  guest used ${mib(guestUsed)}; QEMU RSS ${mib(qemu.rss)} (unique ${mib(qemu.unique)}); supervisor RSS ${mib(supervisor.rss)} (unique ${mib(supervisor.unique)})`,
          `  beyond guest RAM: ${mib(qemu.rss - guestUsed + supervisor.rss)} by RSS, ${mib(qemu.unique - guestUsed + supervisor.unique)} unique`,
          `  run -- true p50 ${fmt(median(s.runs))}; exec true p50 ${fmt(median(s.execTrue))} p95 ${fmt(p95(s.execTrue))}; exec git+ls+sort p50 ${fmt(median(s.execGit))} p95 ${fmt(p95(s.execGit))}`,
        ].join("\n"),
      );
    }
  } finally {
    for (const s of samples) await manager.deleteWorkspace(s.id).catch(() => undefined);
  }
}

await main();
console.log(`(environment cache: ${path.resolve(process.env.PYRO_CACHE_DIR ?? "default")})`);
