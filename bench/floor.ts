import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { ensureEnvironment } from "../src/core/environments.js";
import type { PyroPaths } from "../src/core/paths.js";
import { hostTscKhz, qemuVersion } from "../src/runtime/host-tools.js";
import { ensureInitramfs } from "../src/runtime/initramfs.js";
import { chooseAccelerator, type AcceleratorChoice } from "../src/runtime/qemu/accel.js";
import { buildQemuArgs } from "../src/runtime/qemu/args.js";
import { spawnQemu } from "../src/runtime/qemu/vm.js";

/**
 * The floor every boot figure is judged against: QEMU booting the same kernel and initramfs
 * with the same accelerator, powering off as soon as the guest init has loaded its modules.
 */
export async function bootFloor(
  paths: PyroPaths,
  workDir: string,
): Promise<{ timeMs: () => Promise<number>; accel: AcceleratorChoice }> {
  const environment = await ensureEnvironment(paths, "debian:12");
  const initramfsPath = await ensureInitramfs(paths, environment);
  const accel = await chooseAccelerator(paths, {
    kernelPath: environment.kernel_image,
    initramfsPath,
    rootImage: environment.rootfs_image,
    qemuVersion: (await qemuVersion()) ?? "unknown",
  });
  const timeMs = async () => {
    const runDir = mkdtempSync(path.join(workDir, "floor-"));
    const args = buildQemuArgs({
      runDir,
      kernelPath: environment.kernel_image,
      initramfsPath,
      vcpuCount: 1,
      memMib: 1024,
      accelerator: accel.accelerator,
      ...(accel.accelerator === "tcg" ? { tscKhz: hostTscKhz() } : {}),
      network: false,
      rootDisk: {
        serial: "pyro-root",
        path: environment.rootfs_image,
        format: "raw",
        readOnly: true,
      },
      probe: true,
    });
    const start = performance.now();
    await new Promise<void>((resolve) => spawnQemu(args).once("exit", () => resolve()));
    rmSync(runDir, { recursive: true, force: true });
    return performance.now() - start;
  };
  return { timeMs, accel };
}
