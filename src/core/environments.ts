import fs from "node:fs/promises";
import path from "node:path";
import { CATALOG, CATALOG_VERSION, catalogEntry, installDirName } from "../environments/catalog.js";
import { buildEnvironment, type ProgressListener } from "../environments/build.js";
import { inspectAll, inspectInstall, type InstalledEnvironment } from "../environments/store.js";
import { PyroError } from "./errors.js";
import { liveLockHolder, withLock } from "./lock.js";
import { environmentsDir, type PyroPaths } from "./paths.js";

export interface EnvironmentSummary {
  name: string;
  version: string;
  description: string;
  default_packages: string[];
  distribution: string;
  distribution_version: string;
  installed: boolean;
}

export interface EnvironmentListPayload {
  catalog_version: string;
  environments: EnvironmentSummary[];
}

export type EnvironmentInspectPayload = EnvironmentSummary & {
  install_dir: string;
  kernel_image: string;
  rootfs_image: string;
  kernel_version: string | null;
  built_at: string | null;
  problem: string | null;
};

export interface EnvironmentPullPayload extends EnvironmentInspectPayload {
  /** false when the environment was already installed and nothing was built. */
  pulled: boolean;
}

export interface EnvironmentPrunePayload {
  removed: { name: string; reason: string }[];
  count: number;
}

function describe(install: InstalledEnvironment): EnvironmentInspectPayload {
  const entry = catalogEntry(install.name);
  return {
    name: entry.name,
    version: entry.version,
    description: entry.description,
    default_packages: entry.default_packages,
    distribution: entry.distribution,
    distribution_version: entry.distribution_version,
    installed: install.installed,
    install_dir: install.install_dir,
    kernel_image: install.kernel_image,
    rootfs_image: install.rootfs_image,
    kernel_version: install.kernel_version,
    built_at: install.built_at,
    problem: install.problem,
  };
}

function summarize(e: EnvironmentInspectPayload): EnvironmentSummary {
  const {
    name,
    version,
    description,
    default_packages,
    distribution,
    distribution_version,
    installed,
  } = e;
  return {
    name,
    version,
    description,
    default_packages,
    distribution,
    distribution_version,
    installed,
  };
}

export async function listEnvironments(paths: PyroPaths): Promise<EnvironmentListPayload> {
  const installs = await inspectAll(paths);
  return {
    catalog_version: CATALOG_VERSION,
    environments: installs.map((install) => summarize(describe(install))),
  };
}

export async function inspectEnvironment(
  paths: PyroPaths,
  name: string,
): Promise<EnvironmentInspectPayload> {
  return describe(await inspectInstall(paths, catalogEntry(name)));
}

/**
 * Install an environment if it is missing or broken. Concurrent pulls of one environment are
 * serialised by a lock; the second one finds the finished install and returns at once.
 */
export async function pullEnvironment(
  paths: PyroPaths,
  name: string,
  onProgress: ProgressListener = () => undefined,
): Promise<EnvironmentPullPayload> {
  const entry = catalogEntry(name);
  const lock = path.join(environmentsDir(paths), ".locks", installDirName(name));
  return withLock(
    lock,
    async () => {
      const before = await inspectInstall(paths, entry);
      if (before.installed) return { ...describe(before), pulled: false };
      await buildEnvironment(paths, entry, onProgress);
      const after = await inspectInstall(paths, entry);
      if (!after.installed) {
        throw new PyroError(
          "ENVIRONMENT_BUILD_FAILED",
          `built ${name} but it does not verify: ${after.problem}`,
          {
            hint: "Run `pyro env prune` and pull again.",
          },
        );
      }
      return { ...describe(after), pulled: true };
    },
    { what: `the install lock of ${name}` },
  );
}

/** An installed environment, pulling it first when it is missing (as `pyro run` promises). */
export async function ensureEnvironment(
  paths: PyroPaths,
  name: string,
  onProgress?: ProgressListener,
): Promise<InstalledEnvironment> {
  const entry = catalogEntry(name);
  const install = await inspectInstall(paths, entry);
  if (install.installed) return install;
  await pullEnvironment(paths, name, onProgress);
  return inspectInstall(paths, entry);
}

/** Remove broken or stale installs and leftovers of interrupted builds. Healthy installs stay. */
export async function pruneEnvironments(paths: PyroPaths): Promise<EnvironmentPrunePayload> {
  const root = environmentsDir(paths);
  const removed: EnvironmentPrunePayload["removed"] = [];
  const known = new Map(CATALOG.map((entry) => [installDirName(entry.name), entry]));
  const entries = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
  for (const dirent of entries) {
    if (!dirent.isDirectory() || dirent.name === ".locks") continue;
    const full = path.join(root, dirent.name);
    if (dirent.name.startsWith(".build-") || dirent.name.includes(".trash-")) {
      if (await buildInProgress(paths, dirent.name)) continue;
      await fs.rm(full, { recursive: true, force: true });
      removed.push({ name: dirent.name, reason: "leftover of an interrupted build" });
      continue;
    }
    const entry = known.get(dirent.name);
    if (!entry) {
      await fs.rm(full, { recursive: true, force: true });
      removed.push({ name: dirent.name, reason: "not in the current catalog" });
      continue;
    }
    const install = await inspectInstall(paths, entry);
    if (!install.installed && install.problem) {
      await fs.rm(full, { recursive: true, force: true });
      removed.push({ name: entry.name, reason: install.problem });
    }
  }
  return { removed, count: removed.length };
}

/** A build directory whose environment's lock is held belongs to a live pull: leave it. */
async function buildInProgress(paths: PyroPaths, dirName: string): Promise<boolean> {
  const match = /^\.build-(.+)-[^-]+$/.exec(dirName);
  if (!match) return false;
  const lock = path.join(environmentsDir(paths), ".locks", match[1] as string);
  return (await liveLockHolder(lock)) !== undefined;
}
