import fs from "node:fs/promises";
import path from "node:path";
import { readJsonIfExists } from "../core/fs.js";
import { environmentsDir, type PyroPaths } from "../core/paths.js";
import { CATALOG, type CatalogEntry, installDirName } from "./catalog.js";

/**
 * On-disk layout of an installed environment, one directory per name:
 *   manifest.json   written last, so its presence marks a finished install
 *   vmlinuz         Debian cloud kernel
 *   rootfs.ext4     the root filesystem image (never written: VMs use a qcow2 overlay on it)
 *   modules/        the virtio kernel modules the guest init loads; `order` lists the boot set
 */
export const MANIFEST_SCHEMA_VERSION = 1;
export const BOOT_MODULES = [
  "virtio_ring",
  "virtio",
  "virtio_mmio",
  "virtio_blk",
  "virtio_console",
];
export const NET_MODULES = ["failover", "net_failover", "virtio_net"];

export interface EnvironmentManifest {
  schema_version: number;
  name: string;
  version: string;
  kernel_version: string;
  built_at: string;
  rootfs_bytes: number;
  packages: string[];
}

export interface InstalledEnvironment {
  name: string;
  version: string;
  install_dir: string;
  kernel_image: string;
  rootfs_image: string;
  modules_dir: string;
  kernel_version: string | null;
  built_at: string | null;
  installed: boolean;
  /** Why an existing install is not usable; null when it is fine or absent. */
  problem: string | null;
}

export function installDir(paths: PyroPaths, name: string): string {
  return path.join(environmentsDir(paths), installDirName(name));
}

/**
 * The first boot artifact (kernel, root image, a boot or network module) that is absent or
 * empty in an install, as a problem text; undefined when all are there. Catalog, pulled and
 * built environments share it.
 */
export async function missingBootArtifact(
  info: Pick<InstalledEnvironment, "install_dir" | "kernel_image" | "rootfs_image" | "modules_dir">,
): Promise<string | undefined> {
  const required = [
    info.kernel_image,
    info.rootfs_image,
    ...[...BOOT_MODULES, ...NET_MODULES].map((mod) => path.join(info.modules_dir, `${mod}.ko`)),
  ];
  for (const file of required) {
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat || !stat.isFile() || stat.size === 0) {
      return `missing boot artifact ${path.relative(info.install_dir, file)}`;
    }
  }
  return undefined;
}

/** Read an install and check every boot artifact; a partial or stale one reports its problem. */
export async function inspectInstall(
  paths: PyroPaths,
  entry: CatalogEntry,
): Promise<InstalledEnvironment> {
  const dir = installDir(paths, entry.name);
  const info: InstalledEnvironment = {
    name: entry.name,
    version: entry.version,
    install_dir: dir,
    kernel_image: path.join(dir, "vmlinuz"),
    rootfs_image: path.join(dir, "rootfs.ext4"),
    modules_dir: path.join(dir, "modules"),
    kernel_version: null,
    built_at: null,
    installed: false,
    problem: null,
  };
  const exists = await fs.stat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) return info;
  let manifest: unknown;
  try {
    manifest = await readJsonIfExists(path.join(dir, "manifest.json"));
  } catch {
    return { ...info, problem: "manifest.json is unreadable" };
  }
  if (manifest === undefined) return { ...info, problem: "install is incomplete (no manifest)" };
  const m = manifest as Partial<EnvironmentManifest>;
  if (m.schema_version !== MANIFEST_SCHEMA_VERSION || m.name !== entry.name) {
    return { ...info, problem: "manifest does not match this pyro version" };
  }
  if (m.version !== entry.version) {
    return {
      ...info,
      problem: `stale install (version ${String(m.version)}, want ${entry.version})`,
    };
  }
  info.kernel_version = m.kernel_version ?? null;
  info.built_at = m.built_at ?? null;
  const missing = await missingBootArtifact(info);
  if (missing) return { ...info, problem: missing };
  const rootfs = await fs.stat(info.rootfs_image);
  if (m.rootfs_bytes !== undefined && rootfs.size !== m.rootfs_bytes) {
    return { ...info, problem: "rootfs image size does not match the manifest" };
  }
  return { ...info, installed: true };
}

export async function inspectAll(paths: PyroPaths): Promise<InstalledEnvironment[]> {
  return Promise.all(CATALOG.map((entry) => inspectInstall(paths, entry)));
}
