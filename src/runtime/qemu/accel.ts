import { existsSync, constants, accessSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { atomicWriteJson, readJsonIfExists } from "../../core/fs.js";
import type { PyroPaths } from "../../core/paths.js";
import type { Accelerator } from "../driver.js";
import { buildQemuArgs, SERIAL_LOG } from "./args.js";
import { spawnQemu } from "./vm.js";

/**
 * Choosing KVM or TCG. `/dev/kvm` existing is not enough: on a nested paravirtual KVM a stock
 * kernel hangs at entry and `-cpu host` aborts. So we boot the real kernel and initramfs once
 * under KVM with a short deadline; if the guest reports in, KVM it is, otherwise TCG. The answer is
 * cached per host kernel, QEMU and guest kernel. PYRO_ACCEL=kvm|tcg forces a choice.
 */
export interface AcceleratorChoice {
  accelerator: Accelerator;
  reason: string;
  source: "probe" | "cache" | "override" | "no-kvm";
  kvm_device: { exists: boolean; readable: boolean; writable: boolean };
  probed_at: string | null;
}

const PROBE_DEADLINE_MS = 8_000;

export function kvmDevice(): AcceleratorChoice["kvm_device"] {
  const can = (mode: number) => {
    try {
      accessSync("/dev/kvm", mode);
      return true;
    } catch {
      return false;
    }
  };
  return {
    exists: existsSync("/dev/kvm"),
    readable: can(constants.R_OK),
    writable: can(constants.W_OK),
  };
}

interface ProbeInputs {
  kernelPath: string;
  initramfsPath: string;
  rootImage: string;
  qemuVersion: string;
}

export async function chooseAccelerator(
  paths: PyroPaths,
  inputs: ProbeInputs | undefined,
  options: { probe: boolean } = { probe: true },
): Promise<AcceleratorChoice> {
  const device = kvmDevice();
  const forced = process.env.PYRO_ACCEL;
  if (forced === "kvm" || forced === "tcg") {
    return {
      accelerator: forced,
      reason: `PYRO_ACCEL=${forced}`,
      source: "override",
      kvm_device: device,
      probed_at: null,
    };
  }
  if (!device.exists || !device.readable || !device.writable) {
    return {
      accelerator: "tcg",
      reason: device.exists
        ? "/dev/kvm is not readable and writable by this user"
        : "/dev/kvm does not exist",
      source: "no-kvm",
      kvm_device: device,
      probed_at: null,
    };
  }
  const cacheFile = path.join(paths.cacheDir, "accelerator.json");
  const key = inputs
    ? `${os.release()}|${inputs.qemuVersion}|${path.basename(path.dirname(inputs.kernelPath))}`
    : undefined;
  const cached = (await readJsonIfExists(cacheFile).catch(() => undefined)) as
    (AcceleratorChoice & { key: string }) | undefined;
  if (cached && (key === undefined || cached.key === key)) {
    return { ...cached, source: "cache", kvm_device: device };
  }
  if (!inputs || !options.probe) {
    return {
      accelerator: "tcg",
      reason: "KVM not probed yet (needs an installed environment); assuming software emulation",
      source: "no-kvm",
      kvm_device: device,
      probed_at: null,
    };
  }
  const ok = await probeKvm(paths, inputs);
  const choice: AcceleratorChoice = {
    accelerator: ok ? "kvm" : "tcg",
    reason: ok
      ? "a test guest booted under KVM"
      : "/dev/kvm exists but a stock kernel did not boot under it (nested or paravirtual KVM); using TCG software emulation",
    source: "probe",
    kvm_device: device,
    probed_at: new Date().toISOString(),
  };
  await atomicWriteJson(cacheFile, { ...choice, key });
  return choice;
}

async function probeKvm(paths: PyroPaths, inputs: ProbeInputs): Promise<boolean> {
  const runDir = await fs.mkdtemp(path.join(paths.cacheDir, "probe-"));
  try {
    const args = buildQemuArgs({
      runDir,
      kernelPath: inputs.kernelPath,
      initramfsPath: inputs.initramfsPath,
      vcpuCount: 1,
      memMib: 256,
      accelerator: "kvm",
      network: false,
      rootDisk: { serial: "pyro-root", path: inputs.rootImage, format: "raw", readOnly: true },
      probe: true,
    });
    const child = spawnQemu(args);
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_DEADLINE_MS);
    await exited;
    clearTimeout(timer);
    const log = await fs.readFile(path.join(runDir, SERIAL_LOG), "utf8").catch(() => "");
    return log.includes("pyro-probe-ok");
  } finally {
    await fs.rm(runDir, { recursive: true, force: true });
  }
}
