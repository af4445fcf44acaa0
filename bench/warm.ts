/**
 * Warm starts against cold boots, in one run on this machine (docs/warm-starts.md). Each case runs
 * BENCH_RUNS times per path, interleaved (cold, warm, cold, warm, ...) so host load hits both
 * alike; p50 and p95 are printed with the ratio and its target:
 *  - `workspace reset` with 1 MB and with 500 MB written in /workspace: warm <= 0.3 x cold, flat;
 *  - `workspace create` with a 1 MB seed: warm <= 0.4 x cold; with a 200 MB seed: warm <= 1.2 x
 *    (mkfs.ext4 -d of the same tree + a warm restore with an empty seed);
 *  - `pyro run debian:12 -- true`: warm <= 0.4 x cold;
 *  - `workspace start` after `stop`: <= 0.3 x a cold create (1 MB seed).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { WorkspaceManager } from "../src/core/manager.js";
import { makeExt4 } from "../src/core/workspace/seed.js";
import { median, p95, seedTree, timed } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? "5");
const stateDir = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-warm-"));
process.env.PYRO_STATE_DIR = stateDir;
const manager = new WorkspaceManager();

/** Run `action` with PYRO_WARM set, RUNS times per path, interleaved. */
async function both(action: () => Promise<number>): Promise<{ cold: number[]; warm: number[] }> {
  const out = { cold: [] as number[], warm: [] as number[] };
  for (let i = 0; i < RUNS; i += 1) {
    for (const mode of ["cold", "warm"] as const) {
      process.env.PYRO_WARM = mode === "warm" ? "1" : "0";
      out[mode].push(await action());
    }
  }
  return out;
}

const rows: string[] = [];
function report(
  name: string,
  cold: number[],
  warm: number[],
  target: number,
  against = "cold",
): void {
  const ratio = median(warm) / median(cold);
  const line = `${name.padEnd(34)} ${against} p50 ${median(cold).toFixed(0).padStart(5)} p95 ${p95(cold).toFixed(0).padStart(5)} ms | warm p50 ${median(warm).toFixed(0).padStart(5)} p95 ${p95(warm).toFixed(0).padStart(5)} ms | ratio ${ratio.toFixed(2)} (target <= ${target}) ${ratio <= target ? "ok" : "MISSED"}`;
  rows.push(line);
  console.log(line);
}

async function createTimed(seed: string | undefined): Promise<[number, string]> {
  let id = "";
  const t = await timed(async () => {
    id = (
      await manager.createWorkspace({
        environment: "debian:12",
        ...(seed ? { seedPath: seed } : {}),
      })
    ).workspace_id;
  });
  return [t, id];
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-warm-seed-"));
  const seed1 = seedTree(path.join(scratch, "s1"), 100, 1_000_000);
  const seed200 = seedTree(path.join(scratch, "s200"), 2_000, 200_000_000);
  // Save the template outside the timings (a first start of a shape saves it once).
  process.env.PYRO_WARM = "1";
  await manager.deleteWorkspace(
    (await manager.createWorkspace({ environment: "debian:12" })).workspace_id,
  );

  // create, 1 MB seed
  const create1 = await both(async () => {
    const [t, id] = await createTimed(seed1);
    await manager.deleteWorkspace(id);
    return t;
  });
  report("create, 1 MB seed", create1.cold, create1.warm, 0.4);

  // create, 200 MB seed, against mkfs -d of the tree plus a warm restore (empty seed)
  const floor: number[] = [];
  const warm200: number[] = [];
  process.env.PYRO_WARM = "1";
  for (let i = 0; i < RUNS; i += 1) {
    const image = path.join(scratch, "floor.ext4");
    const mkfs = await timed(() => makeExt4(seed200, image, 8192));
    rmSync(image, { force: true });
    const [restore, emptyId] = await createTimed(undefined);
    await manager.deleteWorkspace(emptyId);
    floor.push(mkfs + restore);
    const [t, id] = await createTimed(seed200);
    await manager.deleteWorkspace(id);
    warm200.push(t);
  }
  report("create, 200 MB seed", floor, warm200, 1.2, "floor");

  // reset with 1 MB and 500 MB written in /workspace
  for (const mb of [1, 500]) {
    process.env.PYRO_WARM = "1";
    const id = (await manager.createWorkspace({ environment: "debian:12" })).workspace_id;
    await manager.execWorkspace(id, {
      command: `head -c ${mb * 1_000_000} /dev/urandom > /workspace/fill && sync`,
      timeoutSeconds: 600,
    });
    await manager.createSnapshot(id, "filled");
    const reset = await both(() => timed(() => manager.resetWorkspace(id, { snapshot: "filled" })));
    report(`reset, ${mb} MB in /workspace`, reset.cold, reset.warm, 0.3);
    await manager.deleteWorkspace(id);
  }

  // pyro run -- true
  const run = await both(() =>
    timed(() => manager.runInVm({ environment: "debian:12", command: "true" })),
  );
  report("run debian:12 -- true", run.cold, run.warm, 0.4);

  // start after stop, against a cold create with a 1 MB seed
  process.env.PYRO_WARM = "1";
  const id = (await manager.createWorkspace({ environment: "debian:12", seedPath: seed1 }))
    .workspace_id;
  const starts: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    await manager.stopWorkspace(id);
    starts.push(await timed(() => manager.startWorkspace(id)));
  }
  await manager.deleteWorkspace(id);
  report("start after stop", create1.cold, starts, 0.3, "cold create");

  rmSync(scratch, { recursive: true, force: true });
  console.log(`\n${RUNS} runs per path; ratios are of the p50s.`);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => rmSync(stateDir, { recursive: true, force: true }));
