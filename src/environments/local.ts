import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../core/errors.js";
import { readJsonIfExists } from "../core/fs.js";
import { environmentsDir, type PyroPaths } from "../core/paths.js";
import { CATALOG, installDirName } from "./catalog.js";
import {
  type InstalledEnvironment,
  MANIFEST_SCHEMA_VERSION,
  missingBootArtifact,
} from "./store.js";

/**
 * Environments made on this host rather than from the catalog: pulled OCI images and derived
 * builds. Each lives in `environments/local/<name>-<hash>/` with the same boot artifacts as a
 * catalog install (the kernel and modules are hard links to debian:12's) plus a manifest that
 * records where it came from.
 */
export type LocalSource =
  | {
      kind: "oci";
      reference: string;
      canonical: string;
      manifest_digest: string;
      config_digest: string;
      layers: string[];
    }
  | {
      kind: "build";
      base: string;
      base_digest: string;
      steps: string[];
      copies: { host_path: string; guest_path: string; sha256: string }[];
      network: boolean;
      inputs_digest: string;
    };

export interface LocalManifest {
  schema_version: number;
  name: string;
  version: string;
  kernel_version: string;
  built_at: string;
  rootfs_bytes: number;
  source: LocalSource;
  image_env: string[];
  working_dir: string | null;
}

export interface LocalEnvironment {
  install: InstalledEnvironment;
  manifest: LocalManifest | null;
}

export const LOCAL_VERSION = "1.0.0";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/;

export const isCatalogName = (name: string): boolean =>
  CATALOG.some((entry) => entry.name === name);

export function checkLocalName(name: string, flag = "NAME"): void {
  if (!NAME.test(name) || name.includes("..")) {
    throw new PyroError("INVALID_ARGUMENT", `"${name}" is not a valid environment name`, {
      hint: `Use letters, digits and . _ : / @ - for ${flag} (at most 200 characters).`,
    });
  }
}

export const localRoot = (paths: PyroPaths): string => path.join(environmentsDir(paths), "local");

export function localDir(paths: PyroPaths, name: string): string {
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 12);
  return path.join(localRoot(paths), `${installDirName(name).slice(0, 80)}-${hash}`);
}

function emptyInstall(dir: string, name: string): InstalledEnvironment {
  return {
    name,
    version: LOCAL_VERSION,
    install_dir: dir,
    kernel_image: path.join(dir, "vmlinuz"),
    rootfs_image: path.join(dir, "rootfs.ext4"),
    modules_dir: path.join(dir, "modules"),
    kernel_version: null,
    built_at: null,
    installed: false,
    problem: null,
  };
}

/** Read one local environment's directory; undefined when there is none. */
export async function readLocalDir(dir: string): Promise<LocalEnvironment | undefined> {
  let raw: unknown;
  try {
    raw = await readJsonIfExists(path.join(dir, "manifest.json"));
  } catch {
    return {
      install: { ...emptyInstall(dir, path.basename(dir)), problem: "manifest.json is unreadable" },
      manifest: null,
    };
  }
  if (raw === undefined) {
    const exists = await fs.stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) return undefined;
    return {
      install: {
        ...emptyInstall(dir, path.basename(dir)),
        problem: "install is incomplete (no manifest)",
      },
      manifest: null,
    };
  }
  const manifest = raw as LocalManifest;
  const info = emptyInstall(dir, String(manifest.name));
  if (manifest.schema_version !== MANIFEST_SCHEMA_VERSION || typeof manifest.source !== "object") {
    return {
      install: { ...info, problem: "manifest does not match this pyro version" },
      manifest: null,
    };
  }
  info.kernel_version = manifest.kernel_version ?? null;
  info.built_at = manifest.built_at ?? null;
  const missing = await missingBootArtifact(info);
  if (missing) return { install: { ...info, problem: missing }, manifest };
  const rootfs = await fs.stat(info.rootfs_image);
  if (rootfs.size !== manifest.rootfs_bytes) {
    return {
      install: { ...info, problem: "rootfs image size does not match the manifest" },
      manifest,
    };
  }
  return { install: { ...info, installed: true }, manifest };
}

export async function readLocal(
  paths: PyroPaths,
  name: string,
): Promise<LocalEnvironment | undefined> {
  const found = await readLocalDir(localDir(paths, name));
  if (found?.manifest && found.manifest.name !== name) return undefined;
  return found;
}

/** Every finished local environment, sorted by name. */
export async function listLocal(paths: PyroPaths): Promise<LocalEnvironment[]> {
  const entries = await fs.readdir(localRoot(paths), { withFileTypes: true }).catch(() => []);
  const found: LocalEnvironment[] = [];
  for (const dirent of entries) {
    if (!dirent.isDirectory() || dirent.name.startsWith(".")) continue;
    const local = await readLocalDir(path.join(localRoot(paths), dirent.name));
    if (local?.manifest) found.push(local);
  }
  return found.sort((a, b) => a.install.name.localeCompare(b.install.name));
}

/** Link (or copy) the kernel and modules of an installed base into a new environment dir. */
export async function shareKernel(base: InstalledEnvironment, dir: string): Promise<void> {
  const link = async (from: string, to: string) => {
    await fs.link(from, to).catch(async () => fs.copyFile(from, to));
  };
  await link(base.kernel_image, path.join(dir, "vmlinuz"));
  await fs.mkdir(path.join(dir, "modules"));
  for (const file of await fs.readdir(base.modules_dir)) {
    await link(path.join(base.modules_dir, file), path.join(dir, "modules", file));
  }
}

export function notInstalled(name: string): PyroError {
  return new PyroError("UNKNOWN_ENVIRONMENT", `unknown environment "${name}"`, {
    hint: `Use a catalog name (debian:12, debian:12-base, debian:12-build), pull an image with \`pyro env pull ${name}\`, or build one with \`pyro env build\` (see \`pyro env list\`).`,
  });
}

/** Synchronous check of an environment name: a catalog name or a well-formed local one. */
export function checkEnvironmentName(name: string): void {
  if (isCatalogName(name)) return;
  if (!NAME.test(name) || name.includes("..")) throw notInstalled(name);
}
