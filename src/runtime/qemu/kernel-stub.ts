import fs from "node:fs/promises";
import path from "node:path";

/** Where a bzImage keeps its setup header: the sector count byte and the "HdrS" magic. */
const SETUP_SECTS_OFFSET = 0x1f1;
const HEADER_MAGIC_OFFSET = 0x202;
const HEADER_MAGIC = "HdrS";
/** QEMU wants some protected-mode payload after the setup sectors; its bytes never run. */
const STUB_PAYLOAD_BYTES = 4096;

/**
 * A VM restored from a saved state (`-incoming`) never boots its kernel: the guest's memory comes
 * from the state. QEMU still reads `-kernel` and `-initrd` at start and keeps both in memory for
 * the firmware loader (fw_cfg), which is not part of the migrated state: about 14 MiB per VM for
 * the Debian kernel and our initramfs. This writes a stand-in of a few KiB with the real kernel's
 * setup header (so QEMU sets the machine up exactly as for the real one) and no payload.
 * Returns undefined when the kernel is not a bzImage (then the real kernel is passed).
 */
export async function writeKernelStub(
  kernelPath: string,
  runDir: string,
): Promise<string | undefined> {
  const handle = await fs.open(kernelPath, "r");
  try {
    const head = Buffer.alloc(HEADER_MAGIC_OFFSET + 4);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead < head.length) return undefined;
    if (head.toString("latin1", HEADER_MAGIC_OFFSET, HEADER_MAGIC_OFFSET + 4) !== HEADER_MAGIC) {
      return undefined;
    }
    // A setup_sects of 0 means 4 (the boot protocol's rule for old kernels).
    const setupSectors = head[SETUP_SECTS_OFFSET] || 4;
    const stub = Buffer.alloc((setupSectors + 1) * 512 + STUB_PAYLOAD_BYTES);
    const { bytesRead: copied } = await handle.read(stub, 0, stub.length, 0);
    if (copied < stub.length) return undefined;
    const stubPath = path.join(runDir, "kernel-stub");
    await fs.writeFile(stubPath, stub, { mode: 0o600 });
    return stubPath;
  } finally {
    await handle.close();
  }
}
