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
export function buildQemuArgs(plan: VmPlan): string[] {
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
      : ["-accel", "tcg,thread=multi"]),
    "-smp",
    String(plan.vcpuCount),
    "-m",
    `${plan.memMib}M`,
    "-kernel",
    plan.kernelPath,
    "-initrd",
    plan.initramfsPath,
    "-append",
    kernelCommandLine(plan),
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
  return args;
}

export function kernelCommandLine(plan: VmPlan): string {
  const words = ["console=ttyS0", "quiet", "panic=-1", `pyro.root=${plan.rootDisk.serial}`];
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
