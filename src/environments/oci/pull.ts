import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PyroError } from "../../core/errors.js";
import { atomicWriteJson } from "../../core/fs.js";
import type { PyroPaths } from "../../core/paths.js";
import { requireTool } from "../../runtime/host-tools.js";
import { replaceDirectory, type ProgressListener } from "../build.js";
import { installDirName } from "../catalog.js";
import { type LocalManifest, LOCAL_VERSION, localDir, localRoot, shareKernel } from "../local.js";
import { type InstalledEnvironment, MANIFEST_SCHEMA_VERSION } from "../store.js";
import { readLayout, scanLayers } from "./layer-scan.js";
import { parseImageReference, type ImageReference } from "./reference.js";
import { runTool } from "./run-tool.js";
import { runInSandbox, SANDBOX_UID } from "./sandbox.js";

export interface PullImageOptions {
  username?: string;
  password?: string;
  insecure?: boolean;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

/**
 * Pull an OCI image into a local environment: skopeo copies it into a private OCI layout
 * (verifying every digest), pyro checks every layer, umoci unpacks it as root of an unprivileged
 * user namespace (applying whiteouts, opaque directories, hard links, modes and owners) and
 * mkfs.ext4 -d builds the root image from that tree, in the same namespace, with no mount. The
 * finished directory is renamed into place in one step; any failure removes the work directory.
 */
export async function pullImage(
  paths: PyroPaths,
  name: string,
  base: InstalledEnvironment,
  options: PullImageOptions = {},
): Promise<void> {
  const ref = parseImageReference(name);
  const skopeo = requireTool("skopeo");
  const umoci = requireTool("umoci");
  const mkfs = requireTool("mkfs");
  const progress = (
    phase: Parameters<ProgressListener>[0]["phase"],
    fraction: number,
    detail?: string,
  ) => options.onProgress?.({ environment: name, phase, fraction, ...(detail ? { detail } : {}) });

  await fs.mkdir(localRoot(paths), { recursive: true });
  const work = await fs.mkdtemp(
    path.join(localRoot(paths), `.build-${installDirName(name).slice(0, 60)}-`),
  );
  try {
    await fs.chmod(work, 0o711);
    await fs.writeFile(path.join(work, "owner"), String(process.pid));
    const sandbox = path.join(work, "sandbox");
    await fs.mkdir(sandbox, { mode: 0o700 });
    await fs.chown(sandbox, SANDBOX_UID, SANDBOX_UID);

    progress("download", 0.02, ref.canonical);
    const layout = path.join(sandbox, "layout");
    const auth = await authArgs(work, ref, options);
    const plainHttp = ref.loopback || options.insecure === true;
    let blobs = 0;
    await runTool(
      skopeo,
      [
        "copy",
        "--override-os",
        "linux",
        "--override-arch",
        "amd64",
        ...auth,
        ...(plainHttp ? ["--src-tls-verify=false"] : []),
        `docker://${ref.canonical}`,
        `oci:${layout}:image`,
      ],
      {
        onLine: (line) => {
          if (!line.startsWith("Copying blob")) return;
          blobs += 1;
          progress("download", Math.min(0.5, 0.05 + 0.05 * blobs), line);
        },
        fail: (tail) => pullFailed(ref, tail),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    await makeReadable(layout);

    progress("verify", 0.55, "digests and layer contents");
    const image = await readLayout(layout);
    await scanLayers(layout, image);

    progress("unpack", 0.65, "umoci unpack");
    await fs.writeFile(path.join(sandbox, "image-env"), image.env.map((e) => `${e}\n`).join(""));
    await fs.writeFile(
      path.join(sandbox, "image-workdir"),
      image.workingDir ? `${image.workingDir}\n` : "",
    );
    await fs.chown(path.join(sandbox, "image-env"), SANDBOX_UID, SANDBOX_UID);
    await fs.chown(path.join(sandbox, "image-workdir"), SANDBOX_UID, SANDBOX_UID);
    const sizeMib = Math.max(4096, Math.ceil((image.totalLayerBytes * 4) / 1048576) + 1024);
    await runInSandbox({
      cwd: sandbox,
      // Relative paths: the sandbox uid may not traverse the directories above (e.g. /root).
      argv: [umoci, "unpack", "--image", "layout:image", "bundle"],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    progress("image", 0.8, "mkfs.ext4 -d");
    await runInSandbox({
      cwd: sandbox,
      argv: ["/bin/sh", "-c", FINISH_ROOT, "finish-root", mkfs, String(sizeMib)],
      ...(options.signal ? { signal: options.signal } : {}),
    });

    progress("install", 0.95);
    const image4 = path.join(work, "rootfs.ext4");
    await fs.rename(path.join(sandbox, "rootfs.ext4"), image4);
    await fs.chown(image4, 0, 0);
    await fs.chmod(image4, 0o644);
    await fs.rm(sandbox, { recursive: true, force: true });
    await shareKernel(base, work);
    const manifest: LocalManifest = {
      schema_version: MANIFEST_SCHEMA_VERSION,
      name,
      version: LOCAL_VERSION,
      kernel_version: base.kernel_version ?? "unknown",
      built_at: new Date().toISOString(),
      rootfs_bytes: (await fs.stat(image4)).size,
      source: {
        kind: "oci",
        reference: name,
        canonical: ref.canonical,
        manifest_digest: image.manifestDigest,
        config_digest: image.configDigest,
        layers: image.layers.map((layer) => layer.digest),
      },
      image_env: image.env,
      working_dir: image.workingDir,
    };
    await fs.rm(path.join(work, "owner"), { force: true });
    await atomicWriteJson(path.join(work, "manifest.json"), manifest);
    await replaceDirectory(work, localDir(paths, name));
    progress("ready", 1);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * Runs in the sandbox after umoci: the directories pyro's init mounts on, the image's Env and
 * WorkingDir for the agent (in /.pyro-image, replacing whatever the image had there), then the
 * ext4 image. The tree is the sandbox's own; a hostile symlink here reaches nothing on the host.
 */
const FINISH_ROOT = `set -eu
mkfs=$1; size=$2; root=bundle/rootfs
for d in proc sys dev run tmp etc workspace; do
  [ -e "$root/$d" ] || [ -L "$root/$d" ] || mkdir -m 0755 "$root/$d"
done
[ -L "$root/tmp" ] || chmod 1777 "$root/tmp"
rm -rf "$root/.pyro-image"
mkdir -m 0755 "$root/.pyro-image"
cp image-env "$root/.pyro-image/env"
cp image-workdir "$root/.pyro-image/workdir"
"$mkfs" -q -F -L pyro-root -d "$root" rootfs.ext4 "\${size}M"
`;

function pullFailed(ref: ImageReference, tail: string): PyroError {
  const denied = /unauthorized|authentication required|denied/i.test(tail);
  const missing = /manifest unknown|not found|name unknown/i.test(tail);
  const http = /server gave HTTP response to HTTPS client|http: server gave/i.test(tail);
  const digest = /digest|checksum|size mismatch|unexpected EOF|short/i.test(tail);
  const hint = denied
    ? `Log in with \`pyro env pull ${ref.canonical} --username USER --password-stdin\` or \`docker login ${ref.registry}\`.`
    : missing
      ? "Check the repository and tag (pyro env pull registry/repository:tag)."
      : http
        ? `The registry speaks plain HTTP; pass --insecure to pull from ${ref.registry} without TLS.`
        : digest
          ? "A blob of the image is damaged or incomplete; push the image again, then pull again."
          : "Check the image reference and that the registry is reachable.";
  const last = tail.split("\n").filter(Boolean).slice(-1)[0] ?? "";
  return new PyroError(
    "IMAGE_PULL_FAILED",
    `pulling ${ref.canonical} failed: ${last.slice(0, 400)}`,
    {
      hint,
      details: { output_tail: tail },
    },
  );
}

/** Credentials: --username/--password-stdin first, else the Docker config file if there is one. */
async function authArgs(
  work: string,
  ref: ImageReference,
  options: PullImageOptions,
): Promise<string[]> {
  if (options.username !== undefined || options.password !== undefined) {
    if (!options.username || !options.password) {
      throw new PyroError(
        "INVALID_ARGUMENT",
        "registry credentials need both a user name and a password",
        {
          hint: "Pass --username USER and the password on stdin with --password-stdin.",
        },
      );
    }
    const file = path.join(work, "auth.json");
    const auth = Buffer.from(`${options.username}:${options.password}`).toString("base64");
    await fs.writeFile(file, JSON.stringify({ auths: { [ref.registry]: { auth } } }), {
      mode: 0o600,
    });
    return ["--src-authfile", file];
  }
  const config = path.join(
    process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker"),
    "config.json",
  );
  const exists = await fs.stat(config).then(
    (s) => s.isFile(),
    () => false,
  );
  return exists ? ["--src-authfile", config] : ["--src-no-creds"];
}

/** skopeo writes as root; the sandbox uid reads the layout (it holds only blobs and JSON). */
async function makeReadable(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    await fs.chmod(full, entry.isDirectory() ? 0o755 : 0o644);
  }
  await fs.chmod(dir, 0o755);
}
