import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { VmPlan } from "../../src/runtime/driver.js";
import {
  buildQemuArgs,
  DEFAULT_TB_SIZE_MIB,
  kernelCommandLine,
  memoryTuning,
} from "../../src/runtime/qemu/args.js";
import { writeKernelStub } from "../../src/runtime/qemu/kernel-stub.js";

const plan: VmPlan = {
  runDir: "/state/runs/abc",
  kernelPath: "/env/vmlinuz",
  initramfsPath: "/boot/initramfs.cpio.gz",
  vcpuCount: 2,
  memMib: 512,
  accelerator: "tcg",
  network: false,
  rootDisk: {
    serial: "pyro-root",
    path: "/state/runs/abc/root.qcow2",
    format: "qcow2",
    readOnly: false,
  },
};

const valueAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe("qemu command line", () => {
  it("qemu args: microvm with ACPI, no defaults, direct kernel boot", () => {
    const args = buildQemuArgs(plan);
    expect(valueAfter(args, "-M")).toBe("microvm,acpi=on");
    expect(args).toContain("-nodefaults");
    expect(args).toContain("-no-reboot");
    expect(valueAfter(args, "-kernel")).toBe("/env/vmlinuz");
    expect(valueAfter(args, "-initrd")).toBe("/boot/initramfs.cpio.gz");
    expect(valueAfter(args, "-smp")).toBe("2");
    expect(valueAfter(args, "-m")).toBe("512M");
  });

  it("qemu args: TCG uses multi-threaded translation; KVM uses the host CPU", () => {
    expect(valueAfter(buildQemuArgs(plan, { tbSizeMib: 0, balloon: false }), "-accel")).toBe(
      "tcg,thread=multi",
    );
    const kvm = buildQemuArgs({ ...plan, accelerator: "kvm" });
    expect(valueAfter(kvm, "-accel")).toBe("kvm");
    expect(valueAfter(kvm, "-cpu")).toBe("host");
  });

  it("qemu args: the agent port is a named virtio-serial port on a Unix socket", () => {
    const args = buildQemuArgs(plan);
    expect(args).toContain("socket,id=agent,path=/state/runs/abc/agent.sock,server=on,wait=off");
    expect(args).toContain("virtserialport,chardev=agent,name=org.pyro.agent.0");
    expect(valueAfter(args, "-serial")).toBe("file:/state/runs/abc/serial.log");
  });

  it("qemu args: disks are found by serial; read-only disks are marked so", () => {
    const args = buildQemuArgs({
      ...plan,
      baselineDisk: {
        serial: "pyro-baseline",
        path: "/w/baseline.ext4",
        format: "raw",
        readOnly: true,
      },
    });
    expect(args).toContain("id=pyro-root,file=/state/runs/abc/root.qcow2,format=qcow2,if=none");
    expect(args).toContain(
      "id=pyro-baseline,file=/w/baseline.ext4,format=raw,if=none,read-only=on",
    );
    expect(args).toContain("virtio-blk-device,drive=pyro-baseline,serial=pyro-baseline");
  });

  it("qemu args: network is off unless asked for, then user-mode only", () => {
    expect(buildQemuArgs(plan).join(" ")).not.toContain("netdev");
    const args = buildQemuArgs({ ...plan, network: true });
    expect(valueAfter(args, "-netdev")).toBe("user,id=net0");
    expect(kernelCommandLine({ ...plan, network: true })).toContain("pyro.net=1");
  });

  it("qemu args: under TCG the guest is told the TSC rate so it never calibrates against the PIT", () => {
    expect(kernelCommandLine(plan)).not.toContain("tsc_early_khz");
    expect(kernelCommandLine({ ...plan, tscKhz: 2596144 }).split(" ")).toEqual(
      expect.arrayContaining(["tsc_early_khz=2596144", "tsc=reliable"]),
    );
  });

  it("qemu args: the console stays quiet and names the root disk", () => {
    const line = kernelCommandLine(plan);
    expect(line.split(" ")).toEqual(
      expect.arrayContaining(["quiet", "console=ttyS0", "pyro.root=pyro-root"]),
    );
  });

  it("qemu args: TCG's code cache is bounded and freed guest pages are reported, unless overridden", () => {
    const args = buildQemuArgs(plan, memoryTuning({}));
    expect(valueAfter(args, "-accel")).toBe(`tcg,thread=multi,tb-size=${DEFAULT_TB_SIZE_MIB}`);
    expect(args).toContain("virtio-balloon-device,free-page-reporting=on");
    const old = buildQemuArgs(plan, memoryTuning({ PYRO_TCG_TB_SIZE_MIB: "0", PYRO_BALLOON: "0" }));
    expect(valueAfter(old, "-accel")).toBe("tcg,thread=multi");
    expect(old.join(" ")).not.toContain("balloon");
    expect(memoryTuning({ PYRO_TCG_TB_SIZE_MIB: "nonsense" }).tbSizeMib).toBe(DEFAULT_TB_SIZE_MIB);
    // Freed pages go back down to single pages; "" keeps the driver's 2 MiB blocks.
    expect(kernelCommandLine(plan, memoryTuning({}))).toContain("pyro.page_reporting_order=0");
    const blocks = memoryTuning({ PYRO_PAGE_REPORTING_ORDER: "" });
    expect(kernelCommandLine(plan, blocks)).not.toContain("page_reporting_order");
    expect(kernelCommandLine(plan, memoryTuning({ PYRO_BALLOON: "0" }))).not.toContain(
      "page_reporting_order",
    );
    // The accelerator probe powers off at once: no balloon there.
    expect(buildQemuArgs({ ...plan, probe: true }, memoryTuning({})).join(" ")).not.toContain(
      "balloon",
    );
  });
});

describe("qemu command line of saved and restored VMs", () => {
  const placeholder = (serial: string, readOnly: boolean) => ({
    serial,
    path: "",
    format: "placeholder" as const,
    readOnly,
    sizeBytes: 8 * 1024 ** 3,
  });
  const saved: VmPlan = {
    ...plan,
    agentMounts: true,
    workspaceDisk: placeholder("pyro-workspace", false),
    baselineDisk: placeholder("pyro-baseline", true),
  };
  const restored: VmPlan = {
    ...saved,
    incomingStatePath: "/cache/warm/k/state",
    workspaceDisk: {
      serial: "pyro-workspace",
      path: "/ws/workspace.qcow2",
      format: "qcow2",
      readOnly: false,
    },
    baselineDisk: {
      serial: "pyro-baseline",
      path: "/ws/baseline.ext4",
      format: "raw",
      readOnly: true,
    },
  };
  const devices = (args: string[]) => args.filter((_, i) => args[i - 1] === "-device");

  it("warm args: placeholders are null-co drives of the real disks' size and read-only flag", () => {
    const drives = buildQemuArgs(saved).filter((_, i, a) => a[i - 1] === "-drive");
    expect(drives[1]).toBe(
      "id=pyro-workspace,driver=null-co,size=8589934592,read-zeroes=on,if=none",
    );
    expect(drives[2]).toBe(
      "id=pyro-baseline,driver=null-co,size=8589934592,read-zeroes=on,if=none,read-only=on",
    );
  });

  it("warm args: a restored VM has the saved VM's devices and kernel command line, other files", () => {
    const a = buildQemuArgs(saved);
    const b = buildQemuArgs(restored);
    expect(devices(b)).toEqual(devices(a));
    expect(valueAfter(b, "-append")).toBe(valueAfter(a, "-append"));
    expect(valueAfter(a, "-append")).not.toMatch(/pyro\.workspace|pyro\.baseline/);
    expect(valueAfter(b, "-incoming")).toBe("exec:cat '/cache/warm/k/state'");
    expect(a).not.toContain("-incoming");
  });

  it("warm args: the state path is one shell word whatever it holds", () => {
    const args = buildQemuArgs({ ...restored, incomingStatePath: "/x/it's; rm -rf ~" });
    expect(valueAfter(args, "-incoming")).toBe("exec:cat '/x/it'\\''s; rm -rf ~'");
  });

  it("warm args: a restored VM loads the stand-in kernel and no initramfs; devices and command line unchanged", () => {
    const a = buildQemuArgs(restored);
    const b = buildQemuArgs({ ...restored, incomingKernelStub: "/run/x/kernel-stub" });
    expect(valueAfter(b, "-kernel")).toBe("/run/x/kernel-stub");
    expect(b).not.toContain("-initrd");
    expect(devices(b)).toEqual(devices(a));
    expect(valueAfter(b, "-append")).toBe(valueAfter(a, "-append"));
    // A stub is only for restores: a cold boot always gets the real files.
    const cold = buildQemuArgs({ ...saved, incomingKernelStub: "/run/x/kernel-stub" });
    expect(valueAfter(cold, "-kernel")).toBe(saved.kernelPath);
    expect(valueAfter(cold, "-initrd")).toBe(saved.initramfsPath);
  });
});

describe("kernel stand-in for restores", () => {
  const bzImage = (setupSectors: number, payload: number): Buffer => {
    const image = Buffer.alloc((setupSectors + 1) * 512 + payload, 0xcc);
    image[0x1f1] = setupSectors;
    image.write("HdrS", 0x202, "latin1");
    return image;
  };

  it("keeps the setup header and sectors, drops the kernel payload", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "pyro-stub-"));
    const kernel = path.join(dir, "vmlinuz");
    await writeFile(kernel, bzImage(39, 14 * 1024 * 1024));
    const stub = await writeKernelStub(kernel, dir);
    expect(stub).toBe(path.join(dir, "kernel-stub"));
    const bytes = await readFile(stub as string);
    expect(bytes.length).toBe(40 * 512 + 4096);
    expect(bytes.equals((await readFile(kernel)).subarray(0, bytes.length))).toBe(true);
    await rm(dir, { recursive: true });
  });

  it("gives up on anything that is not a bzImage, so the real kernel is used", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "pyro-stub-"));
    const elf = path.join(dir, "vmlinux");
    await writeFile(elf, Buffer.concat([Buffer.from("\x7fELF"), Buffer.alloc(8192)]));
    expect(await writeKernelStub(elf, dir)).toBeUndefined();
    const short = path.join(dir, "short");
    await writeFile(short, bzImage(39, 0).subarray(0, 2048));
    expect(await writeKernelStub(short, dir)).toBeUndefined();
    await rm(dir, { recursive: true });
  });
});
