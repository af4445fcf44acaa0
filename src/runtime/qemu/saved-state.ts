import fs from "node:fs/promises";
import { PyroError } from "../../core/errors.js";
import { shellQuote } from "./args.js";
import { QmpClient } from "./qmp.js";

/** QEMU's migration stream starts with "QEVM" and format version 3. */
const STATE_MAGIC = Buffer.from([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3]);
const SAVE_DEADLINE_MS = 120_000;

/**
 * Save a running VM's whole state (memory and devices) to `target`: pause it, stream QEMU's
 * migration format through `cat` into a 0600 file, fsync, rename into place. The VM stays paused
 * (QEMU's "postmigrate"); the caller ends it. The file is QEMU's data: pyro never parses it
 * beyond the header check in `stateFileUsable`.
 */
export async function saveVmState(qmpSocketPath: string, target: string): Promise<void> {
  const partial = `${target}.partial`;
  await fs.rm(partial, { force: true });
  // Created here with its mode, so the file holding guest memory is never readable by others.
  await (await fs.open(partial, "wx", 0o600)).close();
  const qmp = await QmpClient.connect(qmpSocketPath);
  try {
    await qmp.execute("stop");
    await qmp.execute("migrate-set-parameters", { "max-bandwidth": 64 * 1024 ** 3 });
    await qmp.execute("migrate", { uri: `exec:cat > ${shellQuote(partial)}` });
    const deadline = Date.now() + SAVE_DEADLINE_MS;
    for (;;) {
      const info = (await qmp.execute("query-migrate")) as {
        status?: string;
        "error-desc"?: string;
      };
      if (info.status === "completed") break;
      if (info.status === "failed" || info.status === "cancelled") {
        throw new PyroError(
          "VM_SAVE_FAILED",
          `QEMU could not save the VM: ${info["error-desc"] ?? info.status}`,
          {
            hint: "Check free space under the pyro state and cache directories, then retry.",
          },
        );
      }
      if (Date.now() > deadline) {
        throw new PyroError("VM_SAVE_FAILED", `saving the VM took over ${SAVE_DEADLINE_MS} ms`, {
          hint: "The host is overloaded or its disk is slow; retry.",
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    qmp.close();
  }
  const handle = await fs.open(partial, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(partial, target);
}

/**
 * Whether a saved state file can be handed to QEMU: it exists, is a regular file of the size
 * recorded when it was written (a truncated file is refused) and starts with QEMU's header.
 */
export async function stateFileUsable(file: string, expectedBytes: number): Promise<string | null> {
  let handle;
  try {
    handle = await fs.open(file, "r");
  } catch {
    return "the saved state file is missing";
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return "the saved state is not a regular file";
    if (stat.size !== expectedBytes) {
      return `the saved state file has ${stat.size} bytes, ${expectedBytes} were written`;
    }
    const head = Buffer.alloc(STATE_MAGIC.length);
    await handle.read(head, 0, head.length, 0);
    return head.equals(STATE_MAGIC)
      ? null
      : "the saved state file does not start with QEMU's header";
  } finally {
    await handle.close();
  }
}

/**
 * A VM started with `-incoming` loads the saved state and stays paused (it was saved paused):
 * wait for the load to finish, then let it run. A load that fails ends QEMU, or is reported here.
 */
export async function runWhenLoaded(qmpSocketPath: string, deadline: number): Promise<void> {
  let qmp: QmpClient | undefined;
  while (!qmp) {
    try {
      qmp = await QmpClient.connect(qmpSocketPath, Math.max(1, deadline - Date.now()));
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  try {
    for (;;) {
      const status = (await qmp.execute("query-status")) as { status?: string };
      if (status.status === "running") return;
      if (status.status === "paused" || status.status === "postmigrate") break;
      const migration = (await qmp.execute("query-migrate")) as { status?: string };
      if (migration.status === "failed") {
        throw new PyroError("VM_BOOT_FAILED", "QEMU could not load the saved VM state");
      }
      if (Date.now() > deadline) {
        throw new PyroError("VM_BOOT_TIMEOUT", "QEMU did not load the saved VM state in time");
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await qmp.execute("cont");
  } finally {
    qmp.close();
  }
}
