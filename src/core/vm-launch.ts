import path from "node:path";
import type { PyroPaths } from "./paths.js";
import type { InstalledEnvironment } from "../environments/store.js";
import type { RunningVm, VmPlan } from "../runtime/driver.js";
import { hostTscKhz, requireTool, qemuVersion } from "../runtime/host-tools.js";
import { ensureInitramfs } from "../runtime/initramfs.js";
import { createOverlay } from "../runtime/qemu/img.js";
import { chooseAccelerator, type AcceleratorChoice } from "../runtime/qemu/accel.js";
import { QemuDriver } from "../runtime/qemu/vm.js";

export const ROOT_SERIAL = "pyro-root";

export function bootTimeoutMs(): number {
  const seconds = Number(process.env.PYRO_BOOT_TIMEOUT_SECONDS ?? "90");
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 90) * 1000;
}

export interface LaunchRequest {
  environment: InstalledEnvironment;
  runDir: string;
  vcpuCount: number;
  memMib: number;
  network: boolean;
  signal?: AbortSignal;
  extra?: Pick<VmPlan, "workspaceDisk" | "baselineDisk">;
}

export interface LaunchedVm {
  vm: RunningVm;
  accelerator: AcceleratorChoice;
  bootMs: number;
}

/** Everything between an installed environment and a VM whose agent has said hello. */
export async function launchVm(paths: PyroPaths, request: LaunchRequest): Promise<LaunchedVm> {
  requireTool("qemu");
  requireTool("qemuImg");
  const initramfsPath = await ensureInitramfs(paths, request.environment);
  const accelerator = await chooseAccelerator(paths, {
    kernelPath: request.environment.kernel_image,
    initramfsPath,
    rootImage: request.environment.rootfs_image,
    qemuVersion: (await qemuVersion()) ?? "unknown",
  });
  const rootOverlay = path.join(request.runDir, "root.qcow2");
  await createOverlay(request.environment.rootfs_image, rootOverlay);
  const tscKhz = hostTscKhz();
  const started = performance.now();
  const vm = await new QemuDriver().boot(
    {
      runDir: request.runDir,
      kernelPath: request.environment.kernel_image,
      initramfsPath,
      vcpuCount: request.vcpuCount,
      memMib: request.memMib,
      accelerator: accelerator.accelerator,
      ...(accelerator.accelerator === "tcg" && tscKhz ? { tscKhz } : {}),
      network: request.network,
      rootDisk: { serial: ROOT_SERIAL, path: rootOverlay, format: "qcow2", readOnly: false },
      ...request.extra,
    },
    { bootTimeoutMs: bootTimeoutMs(), ...(request.signal ? { signal: request.signal } : {}) },
  );
  return { vm, accelerator, bootMs: Math.round(performance.now() - started) };
}
