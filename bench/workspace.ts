/**
 * Workspace benchmarks, each against its floor or reference, in one run on this machine:
 *  1. create with a 1 MB and a 200 MB seed, against the floor (mkfs.ext4 -d of the same tree plus
 *     a bare VM boot);
 *  2. diff with 1 changed file among 5,000 files against 10 files;
 *  3. snapshot create, snapshot delete and the disk part of reset with 1 MB and 500 MB written in
 *     /workspace, with the size ratio, against the slow way (a tar of /workspace over the agent).
 *  4. host memory of a running workspace: the supervisor (Node) and QEMU.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { WorkspaceManager } from "../src/core/manager.js";
import { resolvePaths } from "../src/core/paths.js";
import { workspaceFiles } from "../src/core/workspace/layout.js";
import {
  connectWorkspace,
  stopSupervisor,
  supervisorPid,
} from "../src/core/workspace/lifecycle.js";
import { makeExt4 } from "../src/core/workspace/seed.js";
import { bootFloor } from "./floor.js";
import { applyInternalSnapshot } from "../src/runtime/qemu/img.js";
import { median, seedTree } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const ms = (x: number) => `${x.toFixed(0).padStart(6)} ms`;
async function timed<T>(action: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await action();
  return [performance.now() - start, value];
}

const stateDir = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-ws-"));
process.env.PYRO_STATE_DIR = stateDir;
const paths = resolvePaths();
const manager = new WorkspaceManager();

let floor: Awaited<ReturnType<typeof bootFloor>> | undefined;
async function bareBoot(): Promise<number> {
  floor ??= await bootFloor(paths, stateDir);
  return floor.timeMs();
}

async function guest(id: string, command: string, timeoutSeconds = 600): Promise<string> {
  const result = await manager.execWorkspace(id, { command, timeoutSeconds });
  if (result.exit_code !== 0) throw new Error(`${command}: ${result.stderr}`);
  return result.stdout;
}

/** The reference we beat: the whole /workspace as a tar over the agent channel. */
async function tarOverChannel(id: string): Promise<[number, number]> {
  const agent = await connectWorkspace(paths, id);
  let bytes = 0;
  const [t] = await timed(
    () =>
      agent.exec(
        { argv: ["tar", "-C", "/workspace", "-cf", "-", "."], timeoutMs: 600_000 },
        { onStdout: (c) => (bytes += c.length) },
      ).result,
  );
  agent.close();
  return [t, bytes];
}

function rssMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? "0") / 1024;
}

async function main(): Promise<void> {
  console.log(`machine: ${os.cpus().length} cores; runs per figure: ${RUNS}`);
  const seeds = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-seeds-"));
  const small = seedTree(path.join(seeds, "small"), 100, 1 << 20);
  const large = seedTree(path.join(seeds, "large"), 400, 200 << 20);

  // 1. create
  for (const [label, seed] of [
    ["1 MB", small],
    ["200 MB", large],
  ] as const) {
    const creates: number[] = [];
    const floors: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const [t, record] = await timed(() =>
        manager.createWorkspace({ environment: "debian:12", seedPath: seed }),
      );
      creates.push(t);
      await manager.deleteWorkspace(record.workspace_id);
      const image = path.join(stateDir, "floor.ext4");
      const [mkfs] = await timed(() => makeExt4(seed, image, 8192));
      rmSync(image, { force: true });
      floors.push(mkfs + (await bareBoot()));
    }
    console.log(
      `create, ${label.padEnd(6)} seed   median ${ms(median(creates))}   floor (mkfs -d + bare boot) ${ms(median(floors))}   ratio ${(median(creates) / median(floors)).toFixed(2)}x`,
    );
  }

  // 2. diff
  const diffTimes: Record<string, number> = {};
  for (const [label, files] of [
    ["10 files", 10],
    ["5,000 files", 5000],
  ] as const) {
    const record = await manager.createWorkspace({
      environment: "debian:12",
      seedPath: seedTree(path.join(seeds, `diff${files}`), files, files * 200),
    });
    await guest(record.workspace_id, "echo changed >> d0/f0.txt");
    const times: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const [t, diff] = await timed(() => manager.diffWorkspace(record.workspace_id));
      if (diff.summary.modified !== 1 || diff.summary.total !== 1)
        throw new Error("diff found the wrong changes");
      times.push(t);
    }
    diffTimes[label] = median(times);
    await manager.deleteWorkspace(record.workspace_id);
  }
  console.log(
    `diff, 1 changed file: 10 files ${ms(diffTimes["10 files"] as number)}   5,000 files ${ms(diffTimes["5,000 files"] as number)}   ratio ${((diffTimes["5,000 files"] as number) / (diffTimes["10 files"] as number)).toFixed(2)}x`,
  );

  // 3. snapshots and reset at two sizes of data written inside the guest
  const results: Record<string, Record<string, number>> = {};
  let memory = "";
  for (const [label, mib] of [
    ["1 MB", 1],
    ["500 MB", 500],
  ] as const) {
    const record = await manager.createWorkspace({ environment: "debian:12" });
    const id = record.workspace_id;
    await guest(id, `head -c ${mib}M /dev/urandom > data.bin && sync`);
    const create: number[] = [];
    const del: number[] = [];
    const fullReset: number[] = [];
    const diskReset: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      create.push((await timed(() => manager.createSnapshot(id, `s${i}`)))[0]);
      del.push((await timed(() => manager.deleteSnapshot(id, `s${i}`)))[0]);
    }
    await manager.createSnapshot(id, "keep");
    const [slow, bytes] = await tarOverChannel(id);
    if (label === "500 MB") {
      const sup = (await supervisorPid(paths, id)) as number;
      const qemu = Number(
        execFileSync("pgrep", ["-P", String(sup), "-f", "qemu-system"])
          .toString()
          .trim()
          .split("\n")[0],
      );
      memory = `host memory of a running workspace (1024 MiB guest): supervisor ${rssMib(sup).toFixed(0)} MiB RSS, QEMU ${rssMib(qemu).toFixed(0)} MiB RSS`;
    }
    for (let i = 0; i < RUNS; i += 1) {
      fullReset.push((await timed(() => manager.resetWorkspace(id, { snapshot: "keep" })))[0]);
    }
    // The disk part of reset on its own: restoring the snapshot on the stopped disk.
    await stopSupervisor(paths, id);
    const disk = workspaceFiles(paths, id).workspaceDisk;
    for (let i = 0; i < RUNS; i += 1)
      diskReset.push((await timed(() => applyInternalSnapshot(disk, "n-keep")))[0]);
    await manager.deleteWorkspace(id);
    results[label] = {
      create: median(create),
      delete: median(del),
      reset: median(fullReset),
      disk: median(diskReset),
      slow,
      bytes,
    };
  }
  const s = results["1 MB"] as Record<string, number>;
  const l = results["500 MB"] as Record<string, number>;
  for (const op of ["create", "delete", "disk", "reset"]) {
    const name = {
      create: "snapshot create",
      delete: "snapshot delete",
      disk: "reset, disk part",
      reset: "reset, whole sandbox",
    }[op] as string;
    console.log(
      `${name.padEnd(22)} 1 MB ${ms(s[op] as number)}   500 MB ${ms(l[op] as number)}   ratio ${((l[op] as number) / (s[op] as number)).toFixed(2)}x`,
    );
  }
  console.log(
    `reset, boot part        about one VM boot; floor (bare boot) ${ms(await bareBoot())}`,
  );
  console.log(
    `slow way (tar of /workspace over the agent): 1 MB ${ms(s.slow as number)}   500 MB ${ms(l.slow as number)} (${((l.bytes as number) / 1048576).toFixed(0)} MiB)   snapshot create beats it ${((l.slow as number) / (l.create as number)).toFixed(0)}x at 500 MB`,
  );
  console.log(memory);
  rmSync(seeds, { recursive: true, force: true });
  rmSync(stateDir, { recursive: true, force: true });
}

await main();
