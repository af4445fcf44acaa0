import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { PyroError } from "../core/errors.js";
import { atomicWriteFile } from "../core/fs.js";
import { agentBinaryPath, bootCacheDir, guestInitPath, type PyroPaths } from "../core/paths.js";
import type { InstalledEnvironment } from "../environments/store.js";
import { requireTool } from "./host-tools.js";

/**
 * The per-boot initramfs: busybox, the guest init script, the agent and the environment's virtio
 * modules. The environment's root image stays pristine. Built once per distinct set of inputs and
 * cached by their hash, so a boot normally just reuses a file.
 */
export async function ensureInitramfs(
  paths: PyroPaths,
  environment: InstalledEnvironment,
): Promise<string> {
  const agent = await readInput(agentBinaryPath(), "guest agent binary", "Run `make build`.");
  const init = await readInput(guestInitPath(), "guest init script", "Reinstall pyro-mcp.");
  const busyboxPath = requireTool("busybox");
  const busybox = await fs.readFile(busyboxPath);
  const moduleNames = (await fs.readdir(environment.modules_dir)).sort();
  const hash = createHash("sha256");
  for (const part of [agent, init, busybox]) hash.update(part);
  for (const name of moduleNames) {
    hash.update(name);
    hash.update(await fs.readFile(path.join(environment.modules_dir, name)));
  }
  const balloon = moduleNames.includes(`${BALLOON_MODULE}.ko`);
  if (balloon) hash.update(`order+${BALLOON_MODULE}`);
  const digest = hash.digest("hex").slice(0, 16);
  const target = path.join(bootCacheDir(paths), `initramfs-${digest}.cpio.gz`);
  if (
    await fs.stat(target).then(
      () => true,
      () => false,
    )
  )
    return target;

  const staging = path.join(bootCacheDir(paths), `.staging-${randomBytes(4).toString("hex")}`);
  try {
    await fs.mkdir(path.join(staging, "bin"), { recursive: true });
    await fs.mkdir(path.join(staging, "modules"));
    await fs.writeFile(path.join(staging, "init"), init, { mode: 0o755 });
    await fs.writeFile(path.join(staging, "pyro-agent"), agent, { mode: 0o755 });
    await fs.writeFile(path.join(staging, "bin", "busybox"), busybox, { mode: 0o755 });
    for (const name of moduleNames) {
      await fs.copyFile(
        path.join(environment.modules_dir, name),
        path.join(staging, "modules", name),
      );
    }
    if (balloon) await appendToOrder(path.join(staging, "modules", "order"), BALLOON_MODULE);
    const archive = await cpioNewc(staging);
    await atomicWriteFile(target, gzipSync(archive, { level: 6 }));
    return target;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/**
 * virtio_balloon (after virtio and virtio_mmio in the boot order) lets the guest report freed
 * pages so QEMU can drop them: an idle workspace then costs the host what the guest uses, not
 * every page its boot once touched. Environments built before it was packaged boot without it.
 */
export const BALLOON_MODULE = "virtio_balloon";

async function appendToOrder(orderFile: string, module: string): Promise<void> {
  const order = (await fs.readFile(orderFile, "utf8")).split("\n").filter(Boolean);
  if (!order.includes(module)) order.push(module);
  await fs.writeFile(orderFile, `${order.join("\n")}\n`);
}

async function readInput(file: string, what: string, hint: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch {
    throw new PyroError("AGENT_MISSING", `${what} not found at ${file}`, { hint });
  }
}

async function cpioNewc(dir: string): Promise<Buffer> {
  const entries = await fs.readdir(dir, { recursive: true });
  const list = [".", ...entries.map((e) => `./${e}`)].join("\n");
  const cpio = requireTool("cpio");
  return new Promise((resolve, reject) => {
    const child = spawn(cpio, ["--quiet", "-o", "-H", "newc", "-R", "0:0"], {
      cwd: dir,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`cpio failed: ${err}`)),
    );
    child.stdin.end(`${list}\n`);
  });
}
