/**
 * Environments from images and builds (docs/environments.md), in one run on this machine:
 *  - `env pull REF` (download, verify, scan, unpack in the sandbox, mkfs.ext4 -d) of an image of
 *    a debian:12 slice pushed to a local docker-registry, against the floor: `skopeo copy` plus
 *    `umoci unpack` of the same image with no checks and no root image (target <= 2.5 x);
 *  - `workspace create` from a derived environment (debian:12 plus a step) against `workspace
 *    create debian:12`, both warm after their first create (target <= 1.3 x).
 * BENCH_RUNS (default 3) runs per case, interleaved so host load hits both alike.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { c as tarCreate } from "tar";
import { WorkspaceManager } from "../src/core/manager.js";
import { resolvePaths } from "../src/core/paths.js";
import { localDir } from "../src/environments/local.js";
import { startRegistry, writeOciLayout } from "../tests/support/oci-image.js";
import { median, p95, timed } from "./stats.js";

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const tmp = mkdtempSync(path.join(os.tmpdir(), "pyro-bench-oci-"));
process.env.PYRO_STATE_DIR = path.join(tmp, "state");
const manager = new WorkspaceManager();
const paths = resolvePaths();

function report(name: string, floorName: string, floor: number[], ours: number[], target: number) {
  const ratio = median(ours) / median(floor);
  console.log(
    `${name.padEnd(28)} ${floorName} p50 ${median(floor).toFixed(0).padStart(6)} p95 ${p95(floor).toFixed(0).padStart(6)} ms | pyro p50 ${median(ours).toFixed(0).padStart(6)} p95 ${p95(ours).toFixed(0).padStart(6)} ms | ratio ${ratio.toFixed(2)} (target <= ${target}) ${ratio <= target ? "ok" : "MISSED"}`,
  );
}

async function debianSliceImage(
  registryHost: string,
  push: (layout: string, repo: string) => Promise<void>,
) {
  await manager.pullEnvironment("debian:12");
  const rootfs = path.join(paths.cacheDir, "environments", "debian_12", "rootfs.ext4");
  const tree = path.join(tmp, "tree");
  mkdirSync(path.join(tree, "usr"), { recursive: true });
  for (const dir of ["/etc", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64"]) {
    await run("debugfs", ["-R", `rdump ${dir} ${path.join(tree, path.dirname(dir))}`, rootfs]);
  }
  for (const link of ["bin", "sbin", "lib", "lib64"])
    symlinkSync(`usr/${link}`, path.join(tree, link));
  const tarFile = path.join(tmp, "layer.tar");
  await tarCreate({ cwd: tree, file: tarFile, portable: false }, ["."]);
  const layout = path.join(tmp, "layout");
  mkdirSync(layout);
  await writeOciLayout(layout, { layers: [readFileSync(tarFile)], uncompressed: true });
  await push(layout, "bench-debian:1");
  rmSync(tree, { recursive: true, force: true });
  rmSync(tarFile, { force: true });
  return `${registryHost}/bench-debian:1`;
}

async function main(): Promise<void> {
  const registry = await startRegistry(path.join(tmp, "registry"));
  const ref = await debianSliceImage(registry.host, registry.push);
  try {
    const floor: number[] = [];
    const ours: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const scratch = path.join(tmp, `floor-${i}`);
      mkdirSync(scratch);
      floor.push(
        await timed(async () => {
          await run("skopeo", [
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            `docker://${ref}`,
            `oci:${scratch}/layout:image`,
          ]);
          await run("umoci", ["unpack", "--image", `${scratch}/layout:image`, `${scratch}/bundle`]);
        }),
      );
      rmSync(scratch, { recursive: true, force: true });
      rmSync(localDir(paths, ref), { recursive: true, force: true });
      ours.push(await timed(() => manager.pullEnvironment(ref)));
    }
    report("env pull (debian slice)", "skopeo+umoci", floor, ours, 2.5);

    const derived = `bench-derived:${process.pid}`;
    const build = await timed(() =>
      manager.buildEnvironment({
        name: derived,
        from: "debian:12",
        steps: ["mkdir -p /opt/bench && echo ready > /opt/bench/marker"],
      }),
    );
    console.log(
      `env build (one step)          ${build.toFixed(0)} ms (boot + step + qemu-img convert + e2fsck)`,
    );
    const create = async (environment: string) => {
      let id = "";
      const ms = await timed(async () => {
        id = (await manager.createWorkspace({ environment })).workspace_id;
      });
      await manager.deleteWorkspace(id);
      return ms;
    };
    // First creates save each environment's warm state; they are not counted.
    await create("debian:12");
    await create(derived);
    const base: number[] = [];
    const fromDerived: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      base.push(await create("debian:12"));
      fromDerived.push(await create(derived));
    }
    report("workspace create (derived)", "debian:12", base, fromDerived, 1.3);
    rmSync(localDir(paths, derived), { recursive: true, force: true });
  } finally {
    rmSync(localDir(paths, ref), { recursive: true, force: true });
    await registry.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
