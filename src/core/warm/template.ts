import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { AGENT_VERSION, PROTOCOL_VERSION } from "../../protocol/messages.js";
import type { DiskSpec, VmPlan } from "../../runtime/driver.js";
import { requireTool } from "../../runtime/host-tools.js";
import { createOverlay } from "../../runtime/qemu/img.js";
import { QMP_SOCKET } from "../../runtime/qemu/args.js";
import { saveVmState, stateFileUsable } from "../../runtime/qemu/saved-state.js";
import { QemuDriver } from "../../runtime/qemu/vm.js";
import { atomicWriteJson, readJsonIfExists } from "../fs.js";
import { faultPoint } from "../fault.js";
import { withLock } from "../lock.js";
import type { PyroPaths } from "../paths.js";

/**
 * Saved post-boot states ("templates"), shared per environment and VM shape under
 * `<cache>/warm/<key>/`:
 *   state       QEMU's saved VM (memory and devices), 0600, written by QEMU, read back by QEMU
 *   root.qcow2  the root disk the saved VM had open (read-only from then on): every VM restored
 *               from `state` gets its own overlay on it, so disk and memory agree
 *   meta.json   written last: the key's inputs and the state file's size
 * The key hashes every input the saved VM depends on (QEMU binary and version, kernel,
 * initramfs (agent, init, modules), root image, vCPUs, memory, network, accelerator, the device
 * layout), so a state is only ever used by a VM built exactly like the one that was saved.
 */
export const TEMPLATE_LAYOUT_VERSION = 1;
/** Every workspace disk and baseline is this size (seed.ts), so placeholders can match them. */
export const WARM_DISK_BYTES = 8192 * 1024 * 1024;
const META_SCHEMA = 1;
const NO_TEMPLATE = "no saved state for this environment and VM shape yet";

export interface TemplateInputs {
  environment: string;
  qemuVersion: string;
  kernelPath: string;
  initramfsPath: string;
  rootImage: string;
  vcpuCount: number;
  memMib: number;
  network: boolean;
  accelerator: string;
  tscKhz?: number;
  /** The saved VM's QEMU command line with fixed paths: any device or tuning change is a new key. */
  qemuArgs: string;
}

export interface TemplateMeta {
  schema_version: number;
  key: string;
  shape: string;
  environment: string;
  state_bytes: number;
  created_at: string;
  inputs: Record<string, unknown>;
}

export interface Template {
  dir: string;
  statePath: string;
  rootPath: string;
  meta: TemplateMeta;
}

/** Warm starts are the default; PYRO_WARM=0 turns them off. */
const WARM_DEFAULT: string = "1";

/** Whether warm starts are on: PYRO_WARM=0 forces cold boots (comparison, diagnosis). */
export function warmEnabled(): boolean {
  return (process.env.PYRO_WARM ?? WARM_DEFAULT) !== "0";
}

export const warmDir = (paths: PyroPaths): string => path.join(paths.cacheDir, "warm");

async function fileIdentity(file: string): Promise<string> {
  const stat = await fs.stat(file).catch(() => undefined);
  return stat
    ? `${path.resolve(file)}:${stat.size}:${stat.mtimeMs}:${stat.ino}`
    : `${file}:missing`;
}

/** The key of a template: a hash of everything the saved VM depends on. */
export async function templateKey(
  inputs: TemplateInputs,
): Promise<{ key: string; shape: string; described: Record<string, unknown> }> {
  const described: Record<string, unknown> = {
    layout: TEMPLATE_LAYOUT_VERSION,
    protocol: PROTOCOL_VERSION,
    agent_version: AGENT_VERSION,
    qemu_version: inputs.qemuVersion,
    qemu_binary: await fileIdentity(requireTool("qemu")),
    kernel: await fileIdentity(inputs.kernelPath),
    initramfs: await fileIdentity(inputs.initramfsPath),
    root_image: await fileIdentity(inputs.rootImage),
    vcpu_count: inputs.vcpuCount,
    mem_mib: inputs.memMib,
    network: inputs.network,
    accelerator: inputs.accelerator,
    tsc_khz: inputs.tscKhz ?? null,
    qemu_args: inputs.qemuArgs,
  };
  const key = createHash("sha256").update(JSON.stringify(described)).digest("hex").slice(0, 24);
  const shape = `${inputs.environment}/${inputs.vcpuCount}cpu/${inputs.memMib}M/${inputs.network ? "net" : "nonet"}`;
  return { key, shape, described };
}

/** Drive stand-ins with the devices of a workspace VM (same ids, serials, kinds, sizes). */
export function placeholderDisk(serial: string, readOnly: boolean): DiskSpec {
  return { serial, path: "", format: "placeholder", readOnly, sizeBytes: WARM_DISK_BYTES };
}

/** A usable template for this key, or why there is none. */
export async function findTemplate(
  paths: PyroPaths,
  key: string,
): Promise<{ template?: Template; problem?: string }> {
  const dir = path.join(warmDir(paths), key);
  const meta = (await readJsonIfExists(path.join(dir, "meta.json")).catch(() => undefined)) as
    Partial<TemplateMeta> | undefined;
  if (!meta) return { problem: NO_TEMPLATE };
  if (
    meta.schema_version !== META_SCHEMA ||
    meta.key !== key ||
    typeof meta.state_bytes !== "number"
  ) {
    return { problem: "the saved state's description does not match" };
  }
  const statePath = path.join(dir, "state");
  const rootPath = path.join(dir, "root.qcow2");
  const stateProblem = await stateFileUsable(statePath, meta.state_bytes);
  if (stateProblem) return { problem: stateProblem };
  if (!(await fs.stat(rootPath).catch(() => undefined))?.isFile()) {
    return { problem: "the saved state's root disk is missing" };
  }
  return { template: { dir, statePath, rootPath, meta: meta as TemplateMeta } };
}

/** Throw a template away (a restore from it failed): the next warm start saves a new one. */
export async function discardTemplate(paths: PyroPaths, key: string): Promise<void> {
  const dir = path.join(warmDir(paths), key);
  const trash = path.join(warmDir(paths), `.trash-${randomBytes(4).toString("hex")}`);
  await fs.rename(dir, trash).catch(() => undefined);
  await fs.rm(trash, { recursive: true, force: true });
}

export interface TemplateBuild {
  key: string;
  shape: string;
  described: Record<string, unknown>;
  environment: string;
  rootImage: string;
  /** The plan of the VM to save, without disks and run directory. */
  plan: Omit<VmPlan, "runDir" | "rootDisk" | "workspaceDisk" | "baselineDisk">;
  rootSerial: string;
  workspaceSerial: string;
  baselineSerial: string;
  bootTimeoutMs: number;
}

/**
 * The template for a key, saved now if there is none: boot a VM exactly like a workspace VM
 * but with placeholder disks and nothing mounted, wait for its agent, disconnect, save it. One
 * builder per key at a time (a lock in the cache); the others wait and use its result.
 */
export async function ensureTemplate(paths: PyroPaths, build: TemplateBuild): Promise<Template> {
  const found = await findTemplate(paths, build.key);
  if (found.template) return found.template;
  if (found.problem !== NO_TEMPLATE) {
    process.stderr.write(
      `pyro: warning: saved VM state not used (${found.problem}); saving a new one\n`,
    );
  }
  await fs.mkdir(path.join(warmDir(paths), ".locks"), { recursive: true });
  return withLock(
    path.join(warmDir(paths), ".locks", build.key),
    async () => {
      const again = await findTemplate(paths, build.key);
      if (again.template) return again.template;
      await discardTemplate(paths, build.key);
      await pruneShape(paths, build);
      return saveTemplate(paths, build);
    },
    {
      operation: "save-template",
      holdMs: build.bootTimeoutMs + 180_000,
      timeoutMs: build.bootTimeoutMs + 240_000,
      what: "the saved-state lock",
    },
  );
}

async function saveTemplate(paths: PyroPaths, build: TemplateBuild): Promise<Template> {
  // Short: QEMU socket paths are limited to about 100 bytes.
  // One per key, under the key's lock: what a killed builder left is removed here.
  const staging = path.join(warmDir(paths), `.b-${build.key.slice(0, 12)}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    const rootPath = path.join(staging, "root.qcow2");
    await createOverlay(build.rootImage, rootPath);
    const vm = await new QemuDriver().boot(
      {
        ...build.plan,
        runDir: staging,
        agentMounts: true,
        rootDisk: { serial: build.rootSerial, path: rootPath, format: "qcow2", readOnly: false },
        workspaceDisk: placeholderDisk(build.workspaceSerial, false),
        baselineDisk: placeholderDisk(build.baselineSerial, true),
      },
      { bootTimeoutMs: build.bootTimeoutMs },
    );
    try {
      // Saved with no host connected: every restore starts with a fresh connection and hello.
      vm.socket.destroy();
      await faultPoint("template:saving", () => Promise.resolve(process.pid));
      await saveVmState(path.join(staging, QMP_SOCKET), path.join(staging, "state"));
    } finally {
      await vm.kill();
    }
    const stat = await fs.stat(path.join(staging, "state"));
    await fs.chmod(rootPath, 0o400);
    for (const name of await fs.readdir(staging)) {
      if (!["state", "root.qcow2"].includes(name))
        await fs.rm(path.join(staging, name), { force: true });
    }
    const meta: TemplateMeta = {
      schema_version: META_SCHEMA,
      key: build.key,
      shape: build.shape,
      environment: build.environment,
      state_bytes: stat.size,
      created_at: new Date().toISOString(),
      inputs: build.described,
    };
    await atomicWriteJson(path.join(staging, "meta.json"), meta);
    const dir = path.join(warmDir(paths), build.key);
    await fs.rename(staging, dir);
    return {
      dir,
      statePath: path.join(dir, "state"),
      rootPath: path.join(dir, "root.qcow2"),
      meta,
    };
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * States of the same environment and shape made for an environment image, kernel or QEMU that
 * are gone (a pull, a repair, an upgrade). States of another pyro build (another agent) sharing
 * this cache are kept: they are still right for that build.
 */
async function pruneShape(paths: PyroPaths, build: TemplateBuild): Promise<void> {
  const entries = await fs.readdir(warmDir(paths)).catch(() => [] as string[]);
  for (const name of entries) {
    if (name.startsWith(".") || name === build.key) continue;
    const meta = (await readJsonIfExists(path.join(warmDir(paths), name, "meta.json")).catch(
      () => undefined,
    )) as Partial<TemplateMeta> | undefined;
    if (meta?.shape !== build.shape) continue;
    const stale = ["root_image", "kernel", "qemu_binary", "qemu_version"].some(
      (input) => meta.inputs?.[input] !== build.described[input],
    );
    if (stale) await discardTemplate(paths, name);
  }
}

/** Templates on disk, for doctor. */
export async function listTemplates(paths: PyroPaths): Promise<TemplateMeta[]> {
  const entries = await fs.readdir(warmDir(paths)).catch(() => [] as string[]);
  const metas: TemplateMeta[] = [];
  for (const name of entries) {
    if (name.startsWith(".")) continue;
    const meta = (await readJsonIfExists(path.join(warmDir(paths), name, "meta.json")).catch(
      () => undefined,
    )) as TemplateMeta | undefined;
    if (meta) metas.push(meta);
  }
  return metas;
}
