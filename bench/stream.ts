/**
 * Stream benchmarks (issue 9 item 6), through the built CLI against one workspace:
 *  1. peak RSS of the CLI and of the workspace's supervisor while a slow reader (64 KiB every
 *     50 ms) drains `pyro workspace exec ID -- yes` for ~20 s;
 *  2. exec throughput with a fast reader (host-side MiB/s of `yes | head -c N`) against the guest's
 *     own floor (`yes | head -c N > /dev/null` timed inside the guest, same run).
 * BENCH_BASELINE_CLI=/path/to/other/dist/src/cli/main.js adds the same figures for another build
 * (e.g. the previous release) in its own state directory, to compare.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BENCH_CLI, median } from "./stats.js";

const CLI = BENCH_CLI;
const SLOW_SECONDS = Number(process.env.BENCH_SLOW_SECONDS ?? "20");
const THROUGHPUT_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? String(200 * 1024 * 1024));
const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rss(pid: number): number {
  try {
    return (
      Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024
    );
  } catch {
    return 0;
  }
}

class Build {
  readonly env: NodeJS.ProcessEnv;
  constructor(
    readonly name: string,
    readonly cli: string,
  ) {
    this.env = {
      ...process.env,
      PYRO_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), "pyro-bench-stream-")),
    };
  }

  pyro(args: string[]): string {
    const result = spawnSync(process.execPath, [this.cli, ...args], {
      env: this.env,
      encoding: "utf8",
      maxBuffer: 64 * MiB,
    });
    if (result.status !== 0)
      throw new Error(`pyro ${args.join(" ")}: ${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  supervisorPid(id: string): number {
    return Number(
      readFileSync(
        path.join(this.env.PYRO_STATE_DIR as string, "workspaces", id, "supervisor.pid"),
        "utf8",
      ),
    );
  }

  /** The CLI streams `yes` into a reader taking 64 KiB every 50 ms; peak RSS of CLI and supervisor. */
  async slowReader(id: string) {
    const supervisor = this.supervisorPid(id);
    const supervisorBefore = rss(supervisor);
    const child = spawn(
      process.execPath,
      [this.cli, "workspace", "exec", id, "--timeout-seconds", String(SLOW_SECONDS), "--", "yes"],
      {
        env: this.env,
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    child.stdout.pause();
    let cliPeak = 0;
    let supervisorPeak = 0;
    let read = 0;
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    let done = false;
    void closed.then(() => (done = true));
    const sample = setInterval(() => {
      cliPeak = Math.max(cliPeak, rss(child.pid ?? 0));
      supervisorPeak = Math.max(supervisorPeak, rss(supervisor));
    }, 100);
    // Read for the command's whole life; then stop (an unbounded CLI would still hold GBs).
    const stopAt = performance.now() + (SLOW_SECONDS + 2) * 1000;
    while (!done && performance.now() < stopAt) {
      const chunk = child.stdout.read(64 * 1024) as Buffer | null;
      if (chunk) read += chunk.length;
      await sleep(50);
    }
    clearInterval(sample);
    if (!done) child.kill("SIGKILL");
    await closed;
    await sleep(2000);
    const supervisorAfter = rss(supervisor);
    return { cliPeak, supervisorBefore, supervisorPeak, supervisorAfter, read };
  }

  /** Host-side MiB/s of a command's stdout, read as fast as possible. */
  async throughput(id: string, bytes: number): Promise<number> {
    const start = performance.now();
    const child = spawn(
      process.execPath,
      [
        this.cli,
        "workspace",
        "exec",
        id,
        "--timeout-seconds",
        "600",
        "--",
        "sh",
        "-c",
        `yes | head -c ${bytes}`,
      ],
      {
        env: this.env,
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    let got = 0;
    child.stdout.on("data", (d: Buffer) => (got += d.length));
    await new Promise((resolve) => child.once("close", resolve));
    if (got !== bytes) throw new Error(`expected ${bytes} bytes, got ${got}`);
    return bytes / MiB / ((performance.now() - start) / 1000);
  }

  /** The guest's own floor: the same pipeline into /dev/null, timed inside the guest. */
  guestFloor(id: string, bytes: number): number {
    const out = this.pyro([
      "workspace",
      "exec",
      id,
      "--",
      "sh",
      "-c",
      `s=$(date +%s%N); yes | head -c ${bytes} > /dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`,
    ]);
    return bytes / MiB / (Number(out.trim()) / 1000);
  }
}

const builds = [new Build("this build", CLI)];
if (process.env.BENCH_BASELINE_CLI)
  builds.push(new Build("baseline", process.env.BENCH_BASELINE_CLI));
const ids = builds.map(
  (build) =>
    (
      JSON.parse(build.pyro(["workspace", "create", "debian:12", "--json"])) as {
        workspace_id: string;
      }
    ).workspace_id,
);
const mib = (x: number) => `${(x / MiB).toFixed(0).padStart(5)} MiB`;
try {
  for (const [i, build] of builds.entries()) {
    const slow = await build.slowReader(ids[i] as string);
    console.log(
      `[${build.name}] slow reader (64 KiB / 50 ms, ${SLOW_SECONDS} s of \`yes\`): reader got ${mib(slow.read)}`,
    );
    console.log(`[${build.name}]   CLI peak RSS        ${mib(slow.cliPeak)}`);
    console.log(
      `[${build.name}]   supervisor RSS      ${mib(slow.supervisorBefore)} before, ${mib(slow.supervisorPeak)} peak, ${mib(slow.supervisorAfter)} after`,
    );
  }
  // Interleaved, so that both builds see the same load on a shared machine.
  const host = builds.map(() => [] as number[]);
  const floor = builds.map(() => [] as number[]);
  for (let run = 0; run < RUNS; run += 1) {
    for (const [i, build] of builds.entries()) {
      host[i]?.push(await build.throughput(ids[i] as string, THROUGHPUT_BYTES));
      floor[i]?.push(build.guestFloor(ids[i] as string, THROUGHPUT_BYTES));
    }
  }
  for (const [i, build] of builds.entries()) {
    const h = median(host[i] ?? []);
    const f = median(floor[i] ?? []);
    console.log(
      `[${build.name}] fast reader, ${THROUGHPUT_BYTES / MiB} MiB of \`yes\`, median of ${RUNS}: host-side ${h.toFixed(1)} MiB/s, guest floor ${f.toFixed(1)} MiB/s, ratio ${(h / f).toFixed(3)}`,
    );
  }
} finally {
  for (const [i, build] of builds.entries()) build.pyro(["workspace", "delete", ids[i] as string]);
}
