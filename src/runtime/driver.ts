import type { Socket } from "node:net";
import type { AgentHello } from "../protocol/client.js";

/**
 * The interface every VM driver implements. QEMU is the driver today (virtio-serial agent port,
 * qcow2 disks); a Firecracker driver fits the same shape (vsock agent port, raw disks).
 */
export type Accelerator = "kvm" | "tcg";

export interface DiskSpec {
  /** Serial number the guest init uses to find the disk, e.g. "pyro-root". */
  serial: string;
  /** Unused for a placeholder. */
  path: string;
  /** "placeholder": a zero-filled stand-in of `sizeBytes` (QEMU null-co) with the same device. */
  format: "qcow2" | "raw" | "placeholder";
  readOnly: boolean;
  sizeBytes?: number;
}

export interface VmPlan {
  /** Directory for this VM's sockets and logs; the caller owns and removes it. */
  runDir: string;
  kernelPath: string;
  initramfsPath: string;
  vcpuCount: number;
  memMib: number;
  accelerator: Accelerator;
  network: boolean;
  rootDisk: DiskSpec;
  workspaceDisk?: DiskSpec;
  baselineDisk?: DiskSpec;
  /**
   * Under TCG the guest kernel's PIT calibration of the TSC fails now and then on a busy host and
   * the boot hangs; giving it the host's TSC rate skips that calibration.
   */
  tscKhz?: number;
  /**
   * The agent mounts /workspace and the baseline (a `setup` request) instead of the guest init:
   * set for every VM whose state is saved or restored, so saved and restored VMs share one
   * command line (their kernel parameters name no disks).
   */
  agentMounts?: boolean;
  /** Start from this saved state (`-incoming`) instead of booting the kernel. */
  incomingStatePath?: string;
  /**
   * With `incomingStatePath`: a stand-in for the kernel that QEMU loads but never runs, and no
   * initramfs (src/runtime/qemu/kernel-stub.ts says why).
   */
  incomingKernelStub?: string;
  /** Only the accelerator probe sets this: the guest powers off right after loading modules. */
  probe?: boolean;
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningVm {
  pid: number;
  /** The agent stream, handshake done; wrap it with AgentConnection.attach or a multiplexer. */
  socket: Socket;
  hello: AgentHello;
  serialLogPath: string;
  /** Resolves when the VM process is gone. */
  exited: Promise<VmExit>;
  /** Stop the VM at once and wait for its process to be gone. */
  kill(): Promise<void>;
}

export interface BootOptions {
  bootTimeoutMs: number;
  /**
   * The agent connection goes on from before the save (the host that saved the VM restores it):
   * no handshake, the socket is returned untouched and `hello` is empty.
   */
  continueSession?: boolean;
  signal?: AbortSignal;
}

export interface VmDriver {
  readonly name: string;
  boot(plan: VmPlan, options: BootOptions): Promise<RunningVm>;
}
