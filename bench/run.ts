/**
 * Benchmarks for the runtime foundation, each measured against its floor on this machine in the
 * same run, and printed with the ratio it is judged by. Run with `make bench`.
 *
 *  1. `pyro run debian:12 -- true` (whole CLI: boot, exec, teardown) against a bare QEMU boot of
 *     the same kernel and initramfs that powers off as soon as its modules are loaded.
 *  2. Round trip of a trivial exec on an already booted VM against the in-guest cost of it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEnvironment } from "../src/core/environments.js";
import { resolvePaths } from "../src/core/paths.js";
import { launchVm } from "../src/core/vm-launch.js";
import { bootFloor } from "./floor.js";
import { AgentConnection } from "../src/protocol/client.js";
import { fmt, median, p95 } from "./stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(ROOT, "dist", "src", "cli", "main.js");
const RUNS = Number(process.env.BENCH_RUNS ?? "5");
const EXECS = Number(process.env.BENCH_EXECS ?? "20");

async function timeIt(action: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await action();
  return performance.now() - start;
}

/** Peak resident memory of a process, from /proc (VmHWM). */
function peakRssMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? "0");
  return kb / 1024;
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-"));
  process.env.PYRO_STATE_DIR = stateDir;
  const paths = resolvePaths();
  const environment = await ensureEnvironment(paths, "debian:12");
  const floorBoot = await bootFloor(paths, stateDir);
  console.log(
    `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "?"}; accelerator ${floorBoot.accel.accelerator}`,
  );

  // 1. Floor: bare boot to the initramfs and power-off, same kernel and initramfs.
  const floor: number[] = [];
  for (let i = 0; i < RUNS; i += 1) floor.push(await floorBoot.timeMs());

  const runs: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    runs.push(
      await timeIt(
        () =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, [CLI, "run", "debian:12", "--", "true"], {
              stdio: "ignore",
            });
            child.once("exit", (code) =>
              code === 0 ? resolve() : reject(new Error(`run exited ${code}`)),
            );
          }),
      ),
    );
  }

  // 2. Exec round trip on a booted VM against the agent's own measure of the same exec.
  const runDir = mkdtempSync(path.join(stateDir, "exec-"));
  const { vm } = await launchVm(paths, {
    environment,
    runDir,
    vcpuCount: 1,
    memMib: 1024,
    network: false,
  });
  const agent = AgentConnection.attach(vm.socket);
  let qemuRssMib = 0;
  const roundTrips: number[] = [];
  const inGuest: number[] = [];
  try {
    for (let i = 0; i < EXECS + 2; i += 1) {
      const start = performance.now();
      const result = await agent.exec({ argv: ["/bin/true"] }).result;
      const elapsed = performance.now() - start;
      if (i < 2) continue; // warm-up: first execs page the binary in
      roundTrips.push(elapsed);
      inGuest.push(result.guestDurationMs);
    }
    qemuRssMib = peakRssMib(vm.pid);
  } finally {
    await vm.kill();
  }
  rmSync(stateDir, { recursive: true, force: true });

  const floorMed = median(floor);
  const runMed = median(runs);
  const rtMed = median(roundTrips);
  const guestMed = Math.max(median(inGuest), 1);
  console.log("");
  console.log(
    `bare VM boot (floor)         median ${fmt(floorMed)}  p95 ${fmt(p95(floor))}  (n=${RUNS})`,
  );
  console.log(
    `pyro run debian:12 -- true   median ${fmt(runMed)}  p95 ${fmt(p95(runs))}  (n=${RUNS})`,
  );
  console.log(`  ratio run / floor          ${(runMed / floorMed).toFixed(2)}x`);
  console.log(
    `exec /bin/true round trip    median ${fmt(rtMed)}  p95 ${fmt(p95(roundTrips))}  (n=${EXECS})`,
  );
  console.log(`  in-guest cost (agent)      median ${fmt(guestMed)}`);
  console.log(`  ratio round trip / guest   ${(rtMed / guestMed).toFixed(2)}x`);
  console.log(`QEMU peak RSS (1024 MiB guest, after ${EXECS} execs)  ${qemuRssMib.toFixed(0)} MiB`);
}

await main();
