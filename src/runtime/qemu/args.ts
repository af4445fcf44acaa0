import path from "node:path";
import type { DiskSpec, VmPlan } from "../driver.js";
import { AGENT_PORT_NAME } from "../../protocol/messages.js";

export const AGENT_SOCKET = "agent.sock";
export const QMP_SOCKET = "qmp.sock";
export const SERIAL_LOG = "serial.log";

/**
 * The QEMU command line for a plan. Pure, so it is unit-tested without booting anything.
 * microvm with ACPI (the Debian cloud kernel finds virtio-mmio devices through it), no default
 * devices, direct kernel boot, a quiet serial console written to a file (a chatty console costs
 * about a second of boot under TCG), and one virtio-serial port for the agent.
 */
export function buildQemuArgs(plan: VmPlan, tuning: MemoryTuning = memoryTuning()): string[] {
  const args = [
    "-M",
    "microvm,acpi=on",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    ...(plan.accelerator === "kvm"
      ? ["-accel", "kvm", "-cpu", "host"]
      : ["-accel", tcgAccel(tuning.tbSizeMib)]),
    "-smp",
    String(plan.vcpuCount),
    "-m",
    `${plan.memMib}M`,
    ...bootFiles(plan),
    "-append",
    kernelCommandLine(plan, tuning),
    "-serial",
    `file:${path.join(plan.runDir, SERIAL_LOG)}`,
  ];
  for (const disk of [plan.rootDisk, plan.workspaceDisk, plan.baselineDisk]) {
    if (disk) args.push(...diskArgs(disk));
  }
  if (!plan.probe) {
    args.push(
      "-device",
      "virtio-serial-device,max_ports=2",
      "-chardev",
      `socket,id=agent,path=${path.join(plan.runDir, AGENT_SOCKET)},server=on,wait=off`,
      "-device",
      `virtserialport,chardev=agent,name=${AGENT_PORT_NAME}`,
      "-qmp",
      `unix:${path.join(plan.runDir, QMP_SOCKET)},server=on,wait=off`,
    );
  }
  if (plan.incomingStatePath)
    args.push("-incoming", `exec:cat ${shellQuote(plan.incomingStatePath)}`);
  if (plan.network) {
    args.push("-netdev", "user,id=net0", "-device", "virtio-net-device,netdev=net0");
  }
  if (tuning.balloon && !plan.probe) {
    // Free page reporting: the guest hands back pages it has freed (in 4 MiB blocks), and QEMU
    // drops them from its RSS. Without the guest module (older environments) it does nothing.
    args.push("-device", "virtio-balloon-device,free-page-reporting=on");
  }
  return args;
}

/**
 * Host memory knobs. TCG's translated-code cache defaults to 1 GiB of address space and keeps
 * whatever it fills (about 55 MiB after an idle boot here); a bounded cache is flushed and
 * refilled when full, which costs speed if it is too small (see docs/performance.md).
 * `PYRO_TCG_TB_SIZE_MIB` (0 = QEMU's default) and `PYRO_BALLOON=0` override, for comparison.
 */
export interface MemoryTuning {
  /** TCG translation cache in MiB; 0 leaves QEMU's default. */
  tbSizeMib: number;
  balloon: boolean;
  /** Smallest free block (as a page order) the guest reports; undefined: the driver's 2 MiB. */
  reportingOrder?: number;
}

export const DEFAULT_TB_SIZE_MIB = 32;
/**
 * Free page reporting down to single pages (order 0): with the driver's 2 MiB blocks, about 13 MiB
 * of pages the guest freed stayed in QEMU (docs/performance.md). "" keeps the driver's choice.
 */
export const DEFAULT_REPORTING_ORDER = "0";

export function memoryTuning(env: NodeJS.ProcessEnv = process.env): MemoryTuning {
  const raw = env.PYRO_TCG_TB_SIZE_MIB;
  const parsed = raw === undefined || raw === "" ? DEFAULT_TB_SIZE_MIB : Number(raw);
  const rawOrder = env.PYRO_PAGE_REPORTING_ORDER ?? DEFAULT_REPORTING_ORDER;
  const order = rawOrder === "" ? Number.NaN : Number(rawOrder);
  return {
    tbSizeMib: Number.isInteger(parsed) && parsed >= 0 ? parsed : DEFAULT_TB_SIZE_MIB,
    balloon: env.PYRO_BALLOON !== "0",
    ...(Number.isInteger(order) && order >= 0 && order <= 10 ? { reportingOrder: order } : {}),
  };
}

function tcgAccel(tbSizeMib: number): string {
  return tbSizeMib > 0 ? `tcg,thread=multi,tb-size=${tbSizeMib}` : "tcg,thread=multi";
}

/** The kernel and initramfs; a restored VM gets the stand-in kernel (never run) and no initramfs. */
function bootFiles(plan: VmPlan): string[] {
  if (plan.incomingStatePath && plan.incomingKernelStub)
    return ["-kernel", plan.incomingKernelStub];
  return ["-kernel", plan.kernelPath, "-initrd", plan.initramfsPath];
}

export function kernelCommandLine(plan: VmPlan, tuning: MemoryTuning = memoryTuning()): string {
  const words = ["console=ttyS0", "quiet", "panic=-1", `pyro.root=${plan.rootDisk.serial}`];
  if (tuning.balloon && tuning.reportingOrder !== undefined) {
    words.push(`pyro.page_reporting_order=${tuning.reportingOrder}`);
  }
  if (plan.workspaceDisk && !plan.agentMounts) {
    words.push(`pyro.workspace=${plan.workspaceDisk.serial}`);
  }
  if (plan.baselineDisk && !plan.agentMounts)
    words.push(`pyro.baseline=${plan.baselineDisk.serial}`);
  if (plan.tscKhz) words.push(`tsc_early_khz=${plan.tscKhz}`, "tsc=reliable");
  if (plan.network) words.push("pyro.net=1");
  if (plan.probe) words.push("pyro.probe=1");
  return words.join(" ");
}

/** For QEMU's `exec:` migration URIs (run by /bin/sh): one single-quoted word. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function diskArgs(disk: DiskSpec): string[] {
  const id = disk.serial.replace(/[^A-Za-z0-9_-]/g, "_");
  const source =
    disk.format === "placeholder"
      ? ["driver=null-co", `size=${disk.sizeBytes ?? 0}`, "read-zeroes=on"]
      : [`file=${disk.path}`, `format=${disk.format}`];
  const drive = [`id=${id}`, ...source, "if=none", ...(disk.readOnly ? ["read-only=on"] : [])].join(
    ",",
  );
  return ["-drive", drive, "-device", `virtio-blk-device,drive=${id},serial=${disk.serial}`];
}
