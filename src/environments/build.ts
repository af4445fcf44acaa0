import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import readline from "node:readline";
import { PyroError } from "../core/errors.js";
import { atomicWriteJson } from "../core/fs.js";
import { environmentsDir, type PyroPaths } from "../core/paths.js";
import { requireTool } from "../runtime/host-tools.js";
import { type CatalogEntry, installDirName } from "./catalog.js";
import {
  BOOT_MODULES,
  type EnvironmentManifest,
  installDir,
  MANIFEST_SCHEMA_VERSION,
  NET_MODULES,
} from "./store.js";

export type PullPhase =
  | "bootstrap"
  | "kernel"
  | "image"
  | "install"
  | "ready"
  | "download"
  | "verify"
  | "unpack"
  | "step";

export interface PullProgress {
  environment: string;
  phase: PullPhase;
  /** Rough completion of the whole pull, 0..1. */
  fraction: number;
  detail?: string;
}

export type ProgressListener = (progress: PullProgress) => void;

const DEFAULT_MIRROR = "http://deb.debian.org/debian";
// debootstrap prints about this many "I:" lines for a minbase+git system; used for a rough bar.
const EXPECTED_BOOTSTRAP_LINES = 700;

/**
 * Build an environment from Debian packages into a private work directory, then move it into
 * place in one rename. A failed or killed build leaves only its work directory, which the next
 * pull or `env prune` removes; the manifest is written last so a partial install never looks done.
 */
export async function buildEnvironment(
  paths: PyroPaths,
  entry: CatalogEntry,
  onProgress: ProgressListener,
): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new PyroError("ENVIRONMENT_BUILD_FAILED", "building an environment needs root", {
      hint: "Run `pyro env pull` as root once (e.g. via `sudo make setup`); later runs reuse the cache.",
    });
  }
  const debootstrap = requireTool("debootstrap");
  const mkfs = requireTool("mkfs");
  const root = environmentsDir(paths);
  await fs.mkdir(root, { recursive: true });
  const work = await fs.mkdtemp(path.join(root, `.build-${installDirName(entry.name)}-`));
  const progress = (phase: PullPhase, fraction: number, detail?: string) =>
    onProgress({ environment: entry.name, phase, fraction, ...(detail ? { detail } : {}) });
  try {
    const rootfs = path.join(work, "rootfs");
    const debCache = path.join(paths.cacheDir, "debs");
    await fs.mkdir(debCache, { recursive: true });
    progress("bootstrap", 0, `debootstrap ${entry.suite}`);
    let lines = 0;
    await runLogged(
      debootstrap,
      [
        "--variant=minbase",
        `--include=${entry.include.join(",")}`,
        `--cache-dir=${debCache}`,
        entry.suite,
        rootfs,
        process.env.PYRO_DEBIAN_MIRROR || DEFAULT_MIRROR,
      ],
      (line) => {
        if (!line.startsWith("I: ")) return;
        lines += 1;
        progress(
          "bootstrap",
          Math.min(0.7, (0.7 * lines) / EXPECTED_BOOTSTRAP_LINES),
          line.slice(3),
        );
      },
    );

    progress("kernel", 0.72, "Debian cloud kernel");
    const kernelVersion = await installKernel(rootfs, work);

    progress("image", 0.85, "mkfs.ext4 -d");
    await configureGuest(rootfs);
    const image = path.join(work, "rootfs.ext4");
    await runLogged(mkfs, [
      "-q",
      "-F",
      "-L",
      "pyro-root",
      "-d",
      rootfs,
      image,
      `${entry.rootfs_size_mib}M`,
    ]);
    await fs.rm(rootfs, { recursive: true, force: true });

    progress("install", 0.97);
    const manifest: EnvironmentManifest = {
      schema_version: MANIFEST_SCHEMA_VERSION,
      name: entry.name,
      version: entry.version,
      kernel_version: kernelVersion,
      built_at: new Date().toISOString(),
      rootfs_bytes: (await fs.stat(image)).size,
      packages: entry.default_packages,
    };
    await atomicWriteJson(path.join(work, "manifest.json"), manifest);
    await replaceDirectory(work, installDir(paths, entry.name));
    progress("ready", 1);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** Fetch the cloud kernel package inside the new root (its apt knows the suite), unpack it. */
async function installKernel(rootfs: string, work: string): Promise<string> {
  const chroot = "/usr/sbin/chroot";
  const { stdout } = await runCaptured(chroot, [
    rootfs,
    "apt-cache",
    "depends",
    "--no-recommends",
    "--no-suggests",
    "linux-image-cloud-amd64",
  ]);
  const pkg = /Depends: (linux-image-[0-9][^\s]*-cloud-amd64)/.exec(stdout)?.[1];
  if (!pkg) {
    throw new PyroError(
      "ENVIRONMENT_BUILD_FAILED",
      "cannot resolve the Debian cloud kernel package",
      {
        hint: "Check that the Debian mirror is reachable (PYRO_DEBIAN_MIRROR).",
      },
    );
  }
  await runCaptured(chroot, [rootfs, "sh", "-c", `cd /tmp && apt-get download -q ${pkg}`]);
  const debs = (await fs.readdir(path.join(rootfs, "tmp"))).filter((f) => f.endsWith(".deb"));
  if (debs.length !== 1)
    throw new PyroError("ENVIRONMENT_BUILD_FAILED", `download of ${pkg} failed`);
  await runCaptured(chroot, [rootfs, "dpkg-deb", "-x", `/tmp/${debs[0]}`, "/tmp/kernel"]);
  const unpacked = path.join(rootfs, "tmp", "kernel");
  const kernelVersion = pkg.replace(/^linux-image-/, "");
  await fs.copyFile(
    path.join(unpacked, "boot", `vmlinuz-${kernelVersion}`),
    path.join(work, "vmlinuz"),
  );
  const moduleRoot = path.join(unpacked, "lib", "modules", kernelVersion, "kernel");
  const wanted = new Set([...BOOT_MODULES, ...NET_MODULES]);
  // Optional: free page reporting (src/runtime/initramfs.ts loads it when present).
  const optional = new Set(["virtio_balloon"]);
  const modulesOut = path.join(work, "modules");
  await fs.mkdir(modulesOut);
  for (const file of await listFiles(moduleRoot)) {
    const name = path.basename(file).replace(/\.ko$/, "");
    if (file.endsWith(".ko") && (wanted.has(name) || optional.has(name))) {
      await fs.copyFile(file, path.join(modulesOut, `${name}.ko`));
      wanted.delete(name);
    }
  }
  if (wanted.size > 0) {
    throw new PyroError(
      "ENVIRONMENT_BUILD_FAILED",
      `kernel lacks modules: ${[...wanted].join(", ")}`,
    );
  }
  await fs.writeFile(path.join(modulesOut, "order"), `${BOOT_MODULES.join("\n")}\n`);
  await fs.rm(unpacked, { recursive: true, force: true });
  await fs.rm(path.join(rootfs, "tmp", debs[0] as string), { force: true });
  return kernelVersion;
}

/** Small changes that make the image a good guest: hostname, hosts, no package cache. */
async function configureGuest(rootfs: string): Promise<void> {
  await fs.writeFile(path.join(rootfs, "etc", "hostname"), "pyro\n");
  await fs.writeFile(
    path.join(rootfs, "etc", "hosts"),
    "127.0.0.1 localhost pyro\n::1 localhost\n",
  );
  await fs.mkdir(path.join(rootfs, "workspace"), { recursive: true });
  const archives = path.join(rootfs, "var", "cache", "apt", "archives");
  for (const file of await fs.readdir(archives).catch(() => [] as string[])) {
    if (file.endsWith(".deb")) await fs.rm(path.join(archives, file), { force: true });
  }
}

/**
 * Swap a finished build (catalog, pulled image or derived environment) into place; an old or
 * broken install is moved aside, then removed.
 */
export async function replaceDirectory(from: string, to: string): Promise<void> {
  const trash = `${to}.trash-${randomBytes(4).toString("hex")}`;
  const hadOld = await fs.rename(to, trash).then(
    () => true,
    () => false,
  );
  await fs.rename(from, to);
  if (hadOld) await fs.rm(trash, { recursive: true, force: true });
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

function runCaptured(command: string, args: string[]): Promise<{ stdout: string }> {
  let stdout = "";
  return runLogged(command, args, (line) => (stdout += `${line}\n`)).then(() => ({ stdout }));
}

/** Run a build step; its output is fed line by line to `onLine` and its tail kept for errors. */
function runLogged(
  command: string,
  args: string[],
  onLine?: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" },
    });
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onLine?.(line);
      });
    }
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) return resolve();
      reject(
        new PyroError(
          "ENVIRONMENT_BUILD_FAILED",
          `${path.basename(command)} failed (${signal ?? `exit ${code}`})`,
          {
            hint: "Check network access to the Debian mirror and free disk space, then pull again.",
            details: { output_tail: tail.join("\n") },
          },
        ),
      );
    });
  });
}
