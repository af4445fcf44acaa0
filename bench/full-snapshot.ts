/**
 * Full snapshots and fork (docs/full-snapshots.md), in one run on this machine. BENCH_RUNS times
 * each (interleaved with the path they are judged against, so host load hits both alike); p50
 * and p95 are printed with the ratio and its target:
 *  - full snapshot create with 100 MB and with 800 MB of guest memory in use (a 1.5 GiB guest);
 *  - reset to a full snapshot: <= 0.3 x a cold reset (PYRO_WARM=0, to the baseline), and flat
 *    between 1 MB and 500 MB in /workspace;
 *  - fork from a full snapshot: <= 0.4 x a cold create (PYRO_WARM=0, 1 MB seed).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { WorkspaceManager } from "../src/core/manager.js";
import { median, p95, seedTree, timed } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? "5");
const stateDir = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-full-"));
process.env.PYRO_STATE_DIR = stateDir;
const manager = new WorkspaceManager();

const stats = (xs: number[]) =>
  `p50 ${median(xs).toFixed(0).padStart(5)} p95 ${p95(xs).toFixed(0).padStart(5)} ms`;

function ratio(name: string, value: number[], against: number[], label: string, target: number) {
  const r = median(value) / median(against);
  console.log(
    `${name.padEnd(40)} ${stats(value)} | ${label} ${stats(against)} | ratio ${r.toFixed(2)} (target <= ${target}) ${r <= target ? "ok" : "MISSED"}`,
  );
}

async function create(seedPath: string): Promise<string> {
  return (await manager.createWorkspace({ environment: "debian:12", memMib: 1536, seedPath }))
    .workspace_id;
}

async function exec(id: string, command: string): Promise<void> {
  const result = await manager.execWorkspace(id, { command, timeoutSeconds: 600 });
  if (result.exit_code !== 0) throw new Error(`${command}: ${result.stderr}`);
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-full-seed-"));
  const seed1 = seedTree(path.join(scratch, "s1"), 100, 1_000_000);
  const seed500 = seedTree(path.join(scratch, "s500"), 2_000, 500_000_000);
  const ids: string[] = [];
  try {
    // Full snapshot create at 100 MB and 800 MB of guest memory in use (a tmpfs file of non-zero pages).
    const small = await create(seed1);
    ids.push(small);
    for (const mb of [100, 800]) {
      await exec(
        small,
        `mkdir -p /mnt/fill && (mountpoint -q /mnt/fill || mount -t tmpfs -o size=900M fill /mnt/fill) && rm -f /mnt/fill/f && yes pyro | head -c ${mb}M > /mnt/fill/f`,
      );
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < RUNS; i += 1) {
        times.push(
          await timed(async () => {
            const made = await manager.createSnapshot(small, `m${mb}-${i}`, { kind: "full" });
            bytes = made.snapshot.disk_bytes ?? 0;
          }),
        );
        await manager.deleteSnapshot(small, `m${mb}-${i}`);
      }
      console.log(
        `${`full snapshot create, ${mb} MB in use`.padEnd(40)} ${stats(times)} | disk_bytes ${(bytes / 1024 ** 2).toFixed(0)} MiB`,
      );
    }
    await manager.deleteWorkspace(small);

    // Reset to a full snapshot against a cold reset, at 1 MB and 500 MB in /workspace (new
    // workspaces: the one above has touched 800 MB of guest memory).
    const one = await create(seed1);
    ids.push(one);
    const big = await create(seed500);
    ids.push(big);
    const reset: Record<string, number[]> = { "1": [], "500": [] };
    const cold: number[] = [];
    for (const id of [one, big]) await manager.createSnapshot(id, "full", { kind: "full" });
    for (let i = 0; i < RUNS; i += 1) {
      process.env.PYRO_WARM = "0";
      cold.push(await timed(() => manager.resetWorkspace(one)));
      process.env.PYRO_WARM = "1";
      await manager.resetWorkspace(one, { snapshot: "full" }); // back to the snapshot's VM
      (reset["1"] as number[]).push(
        await timed(() => manager.resetWorkspace(one, { snapshot: "full" })),
      );
      (reset["500"] as number[]).push(
        await timed(() => manager.resetWorkspace(big, { snapshot: "full" })),
      );
    }
    ratio(
      "reset to full snapshot, 1 MB /workspace",
      reset["1"] as number[],
      cold,
      "cold reset",
      0.3,
    );
    ratio(
      "reset to full snapshot, 500 MB /workspace",
      reset["500"] as number[],
      cold,
      "cold reset",
      0.3,
    );
    const flat = median(reset["500"] as number[]) / median(reset["1"] as number[]);
    console.log(
      `${"reset to full: 500 MB / 1 MB".padEnd(40)} ratio ${flat.toFixed(2)} (flat: <= 1.2) ${flat <= 1.2 ? "ok" : "MISSED"}`,
    );

    // Fork from a full snapshot against a cold create.
    const fork: number[] = [];
    const coldCreate: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      process.env.PYRO_WARM = "0";
      let id = "";
      coldCreate.push(await timed(async () => (id = await create(seed1))));
      await manager.deleteWorkspace(id);
      process.env.PYRO_WARM = "1";
      fork.push(
        await timed(
          async () => (id = (await manager.forkWorkspace(one, { snapshot: "full" })).workspace_id),
        ),
      );
      await manager.deleteWorkspace(id);
    }
    ratio("fork from a full snapshot", fork, coldCreate, "cold create", 0.4);
  } finally {
    for (const id of ids) await manager.deleteWorkspace(id).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
