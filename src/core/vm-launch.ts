import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { PyroPaths } from "./paths.js";
import type { InstalledEnvironment } from "../environments/store.js";
import type { DiskSpec, RunningVm, VmPlan } from "../runtime/driver.js";
import { hostTscKhz, requireTool, qemuVersion } from "../runtime/host-tools.js";
import { ensureInitramfs } from "../runtime/initramfs.js";
import { createOverlay } from "../runtime/qemu/img.js";
import { buildQemuArgs } from "../runtime/qemu/args.js";
import { chooseAccelerator, type AcceleratorChoice } from "../runtime/qemu/accel.js";
import { QemuDriver } from "../runtime/qemu/vm.js";
import { guestSetup } from "../protocol/client.js";
import { toPyroError } from "./errors.js";
import { faultPoint } from "./fault.js";
import { atomicWriteJson } from "./fs.js";
import {
  discardTemplate,
  ensureTemplate,
  placeholderDisk,
  templateKey,
  WARM_DISK_BYTES,
  warmEnabled,
} from "./warm/template.js";

export const ROOT_SERIAL = "pyro-root";
export const WORKSPACE_DISK_SERIAL = "pyro-workspace";
export const BASELINE_DISK_SERIAL = "pyro-baseline";
/** Where the agent mounts the disks of a restored VM (as the guest init does on a cold boot). */
const WORKSPACE_MOUNT = "/workspace";
const BASELINE_MOUNT = "/run/pyro/baseline";
/** The plan a VM was started with, kept beside it so `workspace start` restores the same VM. */
export const PLAN_FILE = "plan.json";
/** A restore plus setup takes well under a second; past this the saved state is not trusted. */
const RESTORE_DEADLINE_MS = 30_000;
const SETUP_DEADLINE_MS = 30_000;

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

export type BootPath = "warm" | "cold";

export interface LaunchedVm {
  vm: RunningVm;
  accelerator: AcceleratorChoice;
  bootMs: number;
  bootPath: BootPath;
  /** Why a warm start was not used (or failed and fell back to a cold boot); null otherwise. */
  bootNote: string | null;
}

/** Fresh entropy and the host's clock: what every VM that comes back from a saved state needs. */
function freshSetup(): { timeMs: number; entropy: Buffer } {
  return { timeMs: Date.now(), entropy: randomBytes(64) };
}

/**
 * Everything between an installed environment and a VM whose agent has said hello. With warm
 * starts on, the VM is restored from the saved post-boot state of its environment and shape
 * (saved first if there is none) and set up as a new machine; a state that does not match is
 * never used, and one that fails to restore is thrown away and the VM boots cold.
 */
export async function launchVm(paths: PyroPaths, request: LaunchRequest): Promise<LaunchedVm> {
  requireTool("qemu");
  requireTool("qemuImg");
  const initramfsPath = await ensureInitramfs(paths, request.environment);
  const version = (await qemuVersion()) ?? "unknown";
  const accelerator = await chooseAccelerator(paths, {
    kernelPath: request.environment.kernel_image,
    initramfsPath,
    rootImage: request.environment.rootfs_image,
    qemuVersion: version,
  });
  const tscKhz = accelerator.accelerator === "tcg" ? hostTscKhz() : undefined;
  const base = {
    kernelPath: request.environment.kernel_image,
    initramfsPath,
    vcpuCount: request.vcpuCount,
    memMib: request.memMib,
    accelerator: accelerator.accelerator,
    ...(tscKhz ? { tscKhz } : {}),
    network: request.network,
  };
  const rootOverlay = path.join(request.runDir, "root.qcow2");
  let note: string | null = "warm starts are off (PYRO_WARM=0)";
  if (warmEnabled()) {
    const started = performance.now();
    const unfit = await disksUnfit(request.extra);
    const { key, shape, described } = await templateKey({
      environment: request.environment.name,
      qemuVersion: version,
      kernelPath: base.kernelPath,
      initramfsPath,
      rootImage: request.environment.rootfs_image,
      vcpuCount: base.vcpuCount,
      memMib: base.memMib,
      network: base.network,
      accelerator: base.accelerator,
      ...(tscKhz ? { tscKhz } : {}),
      qemuArgs: buildQemuArgs({
        ...base,
        runDir: "/pyro",
        agentMounts: true,
        rootDisk: {
          serial: ROOT_SERIAL,
          path: "/pyro/root.qcow2",
          format: "qcow2",
          readOnly: false,
        },
        workspaceDisk: placeholderDisk(WORKSPACE_DISK_SERIAL, false),
        baselineDisk: placeholderDisk(BASELINE_DISK_SERIAL, true),
      }).join(" "),
    });
    if (unfit) {
      note = unfit;
    } else {
      let restoring = false;
      try {
        const template = await ensureTemplate(paths, {
          key,
          shape,
          described,
          environment: request.environment.name,
          rootImage: request.environment.rootfs_image,
          plan: base,
          rootSerial: ROOT_SERIAL,
          workspaceSerial: WORKSPACE_DISK_SERIAL,
          baselineSerial: BASELINE_DISK_SERIAL,
          bootTimeoutMs: bootTimeoutMs(),
        });
        await fs.rm(rootOverlay, { force: true });
        await createOverlay(template.rootPath, rootOverlay, "qcow2");
        const plan: VmPlan = {
          ...base,
          runDir: request.runDir,
          agentMounts: true,
          rootDisk: { serial: ROOT_SERIAL, path: rootOverlay, format: "qcow2", readOnly: false },
          workspaceDisk:
            request.extra?.workspaceDisk ?? placeholderDisk(WORKSPACE_DISK_SERIAL, false),
          baselineDisk: request.extra?.baselineDisk ?? placeholderDisk(BASELINE_DISK_SERIAL, true),
        };
        restoring = true;
        const vm = await restoreVm(plan, template.statePath, request.signal, {
          hostname: "pyro",
          machineId: randomBytes(16).toString("hex"),
          mounts: [
            ...(request.extra?.workspaceDisk
              ? [{ serial: WORKSPACE_DISK_SERIAL, target: WORKSPACE_MOUNT, read_only: false }]
              : []),
            ...(request.extra?.baselineDisk
              ? [{ serial: BASELINE_DISK_SERIAL, target: BASELINE_MOUNT, read_only: true }]
              : []),
          ],
        });
        return {
          vm,
          accelerator,
          bootMs: Math.round(performance.now() - started),
          bootPath: "warm",
          bootNote: null,
        };
      } catch (error) {
        const typed = toPyroError(error);
        if (typed.code === "CANCELLED") throw typed;
        // A state that does not restore is never tried again: the next start saves a new one.
        if (restoring) await discardTemplate(paths, key);
        note = `warm start failed, booted cold: ${typed.message.split("\n")[0]}`;
        const qemu = typed.details?.qemu_stderr;
        process.stderr.write(
          `pyro: warning: ${note}${typeof qemu === "string" && qemu ? ` (QEMU: ${qemu.slice(0, 500)})` : ""}\n`,
        );
      }
    }
  }
  await fs.rm(rootOverlay, { force: true });
  await createOverlay(request.environment.rootfs_image, rootOverlay);
  const plan: VmPlan = {
    ...base,
    runDir: request.runDir,
    rootDisk: { serial: ROOT_SERIAL, path: rootOverlay, format: "qcow2", readOnly: false },
    ...request.extra,
  };
  const started = performance.now();
  const vm = await new QemuDriver().boot(plan, {
    bootTimeoutMs: bootTimeoutMs(),
    ...(request.signal ? { signal: request.signal } : {}),
  });
  await keepPlan(plan);
  return {
    vm,
    accelerator,
    bootMs: Math.round(performance.now() - started),
    bootPath: "cold",
    bootNote: note,
  };
}

/** Start QEMU from a saved state with this plan's disks, then make the guest a new machine. */
async function restoreVm(
  plan: VmPlan,
  statePath: string,
  signal: AbortSignal | undefined,
  identity: Omit<Parameters<typeof guestSetup>[1], "entropy" | "timeMs">,
): Promise<RunningVm> {
  const vm = await new QemuDriver().boot(
    { ...plan, incomingStatePath: statePath },
    {
      bootTimeoutMs: Math.min(RESTORE_DEADLINE_MS, bootTimeoutMs()),
      ...(signal ? { signal } : {}),
    },
  );
  try {
    // Kill tests: QEMU or its owner dies between the restore and the setup.
    await faultPoint("restore:before-setup", () => Promise.resolve(process.pid));
    await guestSetup(vm.socket, { ...identity, ...freshSetup() }, SETUP_DEADLINE_MS);
    await keepPlan(plan);
  } catch (error) {
    await vm.kill();
    throw error;
  }
  return vm;
}

/**
 * `workspace start`: bring back the VM that `workspace stop` saved, with the same plan, and give
 * it the clock and fresh entropy (its disks are already mounted, its identity is its own).
 */
export async function resumeVm(
  runDir: string,
  statePath: string,
  identity: { hostname: string; machineId: string } | null = null,
): Promise<{ vm: RunningVm; bootMs: number; plan: VmPlan }> {
  const plan = JSON.parse(await fs.readFile(path.join(runDir, PLAN_FILE), "utf8")) as VmPlan;
  const started = performance.now();
  // A fork also gets a new identity (full snapshots, docs/full-snapshots.md).
  const vm = await restoreVm({ ...plan, runDir }, statePath, undefined, identity ?? {});
  return { vm, bootMs: Math.round(performance.now() - started), plan };
}

/**
 * `workspace start` by the supervisor that saved the VM: the same plan, and the agent connection
 * goes on where it stopped (no handshake); the caller sends the clock and entropy through it.
 */
export async function resumeSession(runDir: string, statePath: string): Promise<RunningVm> {
  const plan = JSON.parse(await fs.readFile(path.join(runDir, PLAN_FILE), "utf8")) as VmPlan;
  return new QemuDriver().boot(
    { ...plan, runDir, incomingStatePath: statePath },
    { bootTimeoutMs: Math.min(RESTORE_DEADLINE_MS, bootTimeoutMs()), continueSession: true },
  );
}

export { freshSetup };

async function keepPlan(plan: VmPlan): Promise<void> {
  const { incomingStatePath: _unused, ...kept } = plan;
  await atomicWriteJson(path.join(plan.runDir, PLAN_FILE), kept);
}

/**
 * Whether a workspace's disks can take the place of the saved VM's placeholders: the guest kernel
 * keeps the sizes it saw, so they must be the same (workspaces created before warm starts may
 * differ and boot cold).
 */
async function disksUnfit(extra: LaunchRequest["extra"]): Promise<string | null> {
  for (const disk of [extra?.workspaceDisk, extra?.baselineDisk]) {
    if (!disk) continue;
    const size = await virtualSize(disk).catch(() => undefined);
    if (size !== WARM_DISK_BYTES) {
      return `the workspace's disk ${path.basename(disk.path)} is not the size warm starts use; booted cold`;
    }
  }
  return null;
}

/** A raw file's size, or a qcow2 image's virtual size from its header (bytes 24..31). */
async function virtualSize(disk: DiskSpec): Promise<number> {
  const handle = await fs.open(disk.path, "r");
  try {
    if (disk.format === "raw") return (await handle.stat()).size;
    const header = Buffer.alloc(32);
    await handle.read(header, 0, 32, 0);
    if (header.readUInt32BE(0) !== 0x514649fb) throw new Error("not a qcow2 image");
    return Number(header.readBigUInt64BE(24));
  } finally {
    await handle.close();
  }
}
