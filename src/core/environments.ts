import fs from "node:fs/promises";
import path from "node:path";
import { CATALOG, CATALOG_VERSION, catalogEntry, installDirName } from "../environments/catalog.js";
import { buildEnvironment, type ProgressListener } from "../environments/build.js";
import { inspectAll, inspectInstall, type InstalledEnvironment } from "../environments/store.js";
import { buildDerived, hashCopies, inputsDigest } from "../environments/derive.js";
import {
  checkLocalName,
  isCatalogName,
  listLocal,
  type LocalEnvironment,
  type LocalSource,
  localDir,
  localRoot,
  notInstalled,
  readLocal,
  readLocalDir,
} from "../environments/local.js";
import { parseImageReference } from "../environments/oci/reference.js";
import { pullImage, type PullImageOptions } from "../environments/oci/pull.js";
import { PyroError } from "./errors.js";
import { processAlive } from "./fs.js";
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
  /** "catalog" (built from Debian packages), "oci" (pulled image) or "build" (derived). */
  source: "catalog" | "oci" | "build";
  /** Image manifest digest (oci) or inputs digest (build); null for catalog environments. */
  digest: string | null;
  /** Apparent size of the root image, when installed. */
  size_bytes: number | null;
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
  /** Where a local environment came from: image reference or base + steps; null for catalog. */
  provenance: LocalSource | null;
  /** Image Env and WorkingDir: defaults of every command run in it. */
  image_env: string[];
  working_dir: string | null;
};

export interface EnvironmentPullPayload extends EnvironmentInspectPayload {
  /** false when the environment was already installed and nothing was built. */
  pulled: boolean;
}

export interface EnvironmentPrunePayload {
  removed: { name: string; reason: string }[];
  count: number;
}

function describe(install: InstalledEnvironment, size: number | null): EnvironmentInspectPayload {
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
    source: "catalog",
    digest: null,
    size_bytes: size,
    provenance: null,
    image_env: [],
    working_dir: null,
  };
}

const rootfsSize = async (install: InstalledEnvironment): Promise<number | null> =>
  install.installed ? (await fs.stat(install.rootfs_image)).size : null;

function summarize(e: EnvironmentInspectPayload): EnvironmentSummary {
  const {
    name,
    version,
    description,
    default_packages,
    distribution,
    distribution_version,
    installed,
    source,
    digest,
    size_bytes,
  } = e;
  return {
    name,
    version,
    description,
    default_packages,
    distribution,
    distribution_version,
    installed,
    source,
    digest,
    size_bytes,
  };
}

export async function listEnvironments(paths: PyroPaths): Promise<EnvironmentListPayload> {
  const installs = await inspectAll(paths);
  const catalog = await Promise.all(
    installs.map(async (install) => summarize(describe(install, await rootfsSize(install)))),
  );
  const local = (await listLocal(paths)).map((found) => summarize(describeLocal(found)));
  return { catalog_version: CATALOG_VERSION, environments: [...catalog, ...local] };
}

export async function inspectEnvironment(
  paths: PyroPaths,
  name: string,
): Promise<EnvironmentInspectPayload> {
  if (!isCatalogName(name)) {
    const found = await readLocal(paths, name);
    if (!found?.manifest) throw notInstalled(name);
    return describeLocal(found);
  }
  const install = await inspectInstall(paths, catalogEntry(name));
  return describe(install, await rootfsSize(install));
}

/**
 * Install an environment if it is missing or broken. Concurrent pulls of one environment are
 * serialised by a lock; the second one finds the finished install and returns at once.
 */
export async function pullEnvironment(
  paths: PyroPaths,
  name: string,
  onProgress: ProgressListener = () => undefined,
  options: PullImageOptions = {},
): Promise<EnvironmentPullPayload> {
  if (!isCatalogName(name)) return pullImageEnvironment(paths, name, onProgress, options);
  const entry = catalogEntry(name);
  const lock = path.join(environmentsDir(paths), ".locks", installDirName(name));
  return withLock(
    lock,
    async () => {
      const before = await inspectInstall(paths, entry);
      if (before.installed) return { ...describe(before, await rootfsSize(before)), pulled: false };
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
      return { ...describe(after, await rootfsSize(after)), pulled: true };
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
  if (!isCatalogName(name)) {
    const found = await readLocal(paths, name);
    if (!found?.manifest) throw notInstalled(name);
    if (!found.install.installed) {
      throw new PyroError(
        "ENVIRONMENT_NOT_INSTALLED",
        `environment ${name} is broken: ${found.install.problem}`,
        { hint: `Run \`pyro env prune\`, then pull or build ${name} again.` },
      );
    }
    return found.install;
  }
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
  removed.push(...(await pruneLocal(paths)));
  for (const dirent of entries) {
    if (!dirent.isDirectory() || dirent.name === ".locks" || dirent.name === "local") continue;
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

function describeLocal(found: LocalEnvironment): EnvironmentInspectPayload {
  const { install, manifest } = found;
  const source = manifest?.source;
  return {
    name: install.name,
    version: install.version,
    description:
      source?.kind === "oci"
        ? `OCI image ${source.canonical}`
        : source?.kind === "build"
          ? `Built from ${source.base} with ${source.steps.length} step(s)`
          : "local environment",
    default_packages: [],
    distribution: source?.kind ?? "local",
    distribution_version: "",
    installed: install.installed,
    install_dir: install.install_dir,
    kernel_image: install.kernel_image,
    rootfs_image: install.rootfs_image,
    kernel_version: install.kernel_version,
    built_at: install.built_at,
    problem: install.problem,
    source: source?.kind ?? "oci",
    digest:
      source?.kind === "oci"
        ? source.manifest_digest
        : source?.kind === "build"
          ? source.inputs_digest
          : null,
    size_bytes: manifest?.rootfs_bytes ?? null,
    provenance: source ?? null,
    image_env: manifest?.image_env ?? [],
    working_dir: manifest?.working_dir ?? null,
  };
}

/** Pull an OCI image as a local environment; serialised per name like catalog pulls. */
async function pullImageEnvironment(
  paths: PyroPaths,
  name: string,
  onProgress: ProgressListener,
  options: PullImageOptions,
): Promise<EnvironmentPullPayload> {
  parseImageReference(name);
  const base = await ensureEnvironment(paths, KERNEL_SOURCE, onProgress);
  const lock = path.join(environmentsDir(paths), ".locks", path.basename(localDir(paths, name)));
  return withLock(
    lock,
    async () => {
      const before = await readLocal(paths, name);
      if (before?.install.installed && before.manifest?.source.kind === "oci") {
        return { ...describeLocal(before), pulled: false };
      }
      await pullImage(paths, name, base, { ...options, onProgress });
      const after = await readLocal(paths, name);
      if (!after?.install.installed) {
        throw new PyroError(
          "ENVIRONMENT_BUILD_FAILED",
          `pulled ${name} but it does not verify: ${after?.install.problem ?? "missing"}`,
          { hint: "Run `pyro env prune` and pull again." },
        );
      }
      return { ...describeLocal(after), pulled: true };
    },
    { what: `the install lock of ${name}` },
  );
}

/** Pulled and built environments boot debian:12's kernel and modules (linked, not copied). */
export const KERNEL_SOURCE = "debian:12";

/** Local environments: leftovers of interrupted pulls and builds, and broken installs. */
async function pruneLocal(paths: PyroPaths): Promise<EnvironmentPrunePayload["removed"]> {
  const root = localRoot(paths);
  const removed: EnvironmentPrunePayload["removed"] = [];
  const entries = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
  for (const dirent of entries) {
    if (!dirent.isDirectory()) continue;
    const full = path.join(root, dirent.name);
    if (dirent.name.startsWith(".build-") || dirent.name.includes(".trash-")) {
      if (await localBuildInProgress(full)) continue;
      await fs.rm(full, { recursive: true, force: true });
      removed.push({ name: dirent.name, reason: "leftover of an interrupted pull or build" });
      continue;
    }
    const found = await readLocalDir(full);
    if (found && !found.install.installed) {
      await fs.rm(full, { recursive: true, force: true });
      removed.push({ name: found.install.name, reason: found.install.problem ?? "broken" });
    }
  }
  return removed;
}

/** A pull or build writes its pid into its work directory; a live pid means keep it. */
async function localBuildInProgress(dir: string): Promise<boolean> {
  const owner = Number(await fs.readFile(path.join(dir, "owner"), "utf8").catch(() => ""));
  return Number.isInteger(owner) && owner > 0 && processAlive(owner);
}

export interface EnvironmentBuildOptions {
  name: string;
  from: string;
  steps: string[];
  copies?: { hostPath: string; guestPath: string }[];
  network?: boolean;
  stepTimeoutSeconds?: number;
  onProgress?: ProgressListener;
  onStdout?: (chunk: Buffer) => unknown;
  onStderr?: (chunk: Buffer) => unknown;
  signal?: AbortSignal;
}

export interface EnvironmentBuildPayload extends EnvironmentInspectPayload {
  /** false when an environment with the same inputs already existed and was reused. */
  built: boolean;
}

/** What a base environment is, for provenance: an image digest, build digest or catalog build. */
async function baseIdentity(
  paths: PyroPaths,
  name: string,
): Promise<{
  install: InstalledEnvironment;
  digest: string;
  imageEnv: string[];
  workingDir: string | null;
}> {
  const install = await ensureEnvironment(paths, name);
  if (isCatalogName(name)) {
    return {
      install,
      digest: `catalog:${name}@${install.built_at ?? "unknown"}`,
      imageEnv: [],
      workingDir: null,
    };
  }
  const described = describeLocal((await readLocal(paths, name)) as LocalEnvironment);
  return {
    install,
    digest: described.digest ?? "unknown",
    imageEnv: described.image_env,
    workingDir: described.working_dir,
  };
}

/**
 * `env build NAME --from BASE --run CMD...`: a derived environment. Same inputs (base identity,
 * steps, copied file contents, network) reuse the existing result; a failing step saves nothing.
 */
export async function buildLocalEnvironment(
  paths: PyroPaths,
  options: EnvironmentBuildOptions,
): Promise<EnvironmentBuildPayload> {
  checkLocalName(options.name, "NAME");
  if (isCatalogName(options.name)) {
    throw new PyroError("ENVIRONMENT_EXISTS", `${options.name} is a catalog environment`, {
      hint: "Choose another NAME for the derived environment (e.g. my-project:1).",
    });
  }
  if (options.steps.length === 0) {
    throw new PyroError("INVALID_ARGUMENT", "a build needs at least one step", {
      hint: "Pass --run CMD (repeat it for more steps).",
    });
  }
  const base = await baseIdentity(paths, options.from);
  const copies = await hashCopies(options.copies ?? []);
  const partial = {
    base: options.from,
    base_digest: base.digest,
    steps: options.steps,
    copies,
    network: options.network ?? false,
  };
  const source = { kind: "build" as const, ...partial, inputs_digest: inputsDigest(partial) };
  const lock = path.join(
    environmentsDir(paths),
    ".locks",
    path.basename(localDir(paths, options.name)),
  );
  return withLock(
    lock,
    async () => {
      const before = await readLocal(paths, options.name);
      if (before?.manifest && before.manifest.source.kind !== "build") {
        throw new PyroError(
          "ENVIRONMENT_EXISTS",
          `${options.name} is an environment pulled from an image`,
          { hint: "Choose another NAME for the derived environment." },
        );
      }
      if (
        before?.install.installed &&
        before.manifest?.source.kind === "build" &&
        before.manifest.source.inputs_digest === source.inputs_digest
      ) {
        return { ...describeLocal(before), built: false };
      }
      await buildDerived(
        paths,
        {
          name: options.name,
          base: base.install,
          baseDigest: base.digest,
          baseImageEnv: base.imageEnv,
          baseWorkingDir: base.workingDir,
          steps: options.steps,
          copies: options.copies ?? [],
          network: options.network ?? false,
          stepTimeoutSeconds: options.stepTimeoutSeconds ?? 1800,
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          onOutput: {
            ...(options.onStdout ? { onStdout: options.onStdout } : {}),
            ...(options.onStderr ? { onStderr: options.onStderr } : {}),
          },
          ...(options.signal ? { signal: options.signal } : {}),
        },
        source,
      );
      const after = await readLocal(paths, options.name);
      if (!after?.install.installed) {
        throw new PyroError(
          "ENVIRONMENT_BUILD_FAILED",
          `built ${options.name} but it does not verify`,
          {
            hint: "Run `pyro env prune` and build again.",
          },
        );
      }
      return { ...describeLocal(after), built: true };
    },
    { what: `the install lock of ${options.name}` },
  );
}
