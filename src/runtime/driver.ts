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
  path: string;
  format: "qcow2" | "raw";
  readOnly: boolean;
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
  signal?: AbortSignal;
}

export interface VmDriver {
  readonly name: string;
  boot(plan: VmPlan, options: BootOptions): Promise<RunningVm>;
}
