import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../core/errors.js";
import { atomicWriteJson } from "../core/fs.js";
import type { PyroPaths } from "../core/paths.js";
import { launchVm } from "../core/vm-launch.js";
import { AgentConnection, type ExecHandlers } from "../protocol/client.js";
import { requireTool } from "../runtime/host-tools.js";
import { replaceDirectory, type ProgressListener } from "./build.js";
import { installDirName } from "./catalog.js";
import {
  type LocalManifest,
  type LocalSource,
  LOCAL_VERSION,
  localDir,
  localRoot,
  shareKernel,
} from "./local.js";
import { runTool } from "./oci/run-tool.js";
import { type InstalledEnvironment, MANIFEST_SCHEMA_VERSION } from "./store.js";

/**
 * Derived environments: boot a base, copy files in, run the steps, then flatten the VM's root
 * overlay onto the base image into a new rootfs.ext4. Everything happens in a private work
 * directory that is renamed into place at the end; a failing step, a kill or a crash leaves
 * only that directory, removed here or by `env prune`.
 */
export interface BuildStepsInput {
  name: string;
  base: InstalledEnvironment;
  /** What the base is, for provenance and the inputs digest (image digest or catalog build). */
  baseDigest: string;
  baseImageEnv: string[];
  baseWorkingDir: string | null;
  steps: string[];
  copies: { hostPath: string; guestPath: string }[];
  network: boolean;
  stepTimeoutSeconds: number;
  onProgress?: ProgressListener;
  onOutput?: ExecHandlers;
  signal?: AbortSignal;
}

const MAX_COPY_BYTES = 1024 * 1024 * 1024;
const TAIL_BYTES = 8192;

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** Check the copies and hash them: the inputs digest covers file contents, not just names. */
export async function hashCopies(
  copies: BuildStepsInput["copies"],
): Promise<{ host_path: string; guest_path: string; sha256: string }[]> {
  const out = [];
  for (const copy of copies) {
    const stat = await fs.stat(copy.hostPath).catch(() => undefined);
    if (!stat?.isFile()) {
      throw new PyroError("INVALID_ARGUMENT", `--copy source ${copy.hostPath} is not a file`, {
        hint: "Pass --copy HOST_FILE:GUEST_PATH with an existing regular file (copy directories as a tar and unpack them in a --run step).",
      });
    }
    if (stat.size > MAX_COPY_BYTES) {
      throw new PyroError(
        "INVALID_ARGUMENT",
        `--copy source ${copy.hostPath} is larger than 1 GiB`,
        {
          hint: "Copy smaller files, or download big ones in a --run step with --network.",
        },
      );
    }
    out.push({
      host_path: path.resolve(copy.hostPath),
      guest_path: copy.guestPath,
      sha256: await fileSha256(copy.hostPath),
    });
  }
  return out;
}

export function inputsDigest(
  source: Omit<Extract<LocalSource, { kind: "build" }>, "inputs_digest" | "kind">,
): string {
  const canonical = JSON.stringify({
    base: source.base,
    base_digest: source.base_digest,
    steps: source.steps,
    copies: source.copies.map((c) => [c.guest_path, c.sha256]),
    network: source.network,
  });
  return `sha256:${createHash("sha256").update(canonical).digest("hex")}`;
}

export async function buildDerived(
  paths: PyroPaths,
  input: BuildStepsInput,
  source: Extract<LocalSource, { kind: "build" }>,
): Promise<void> {
  const qemuImg = requireTool("qemuImg");
  const e2fsck = requireTool("e2fsck");
  const progress = (
    phase: Parameters<ProgressListener>[0]["phase"],
    fraction: number,
    detail?: string,
  ) =>
    input.onProgress?.({ environment: input.name, phase, fraction, ...(detail ? { detail } : {}) });
  await fs.mkdir(localRoot(paths), { recursive: true });
  const work = await fs.mkdtemp(
    path.join(localRoot(paths), `.build-${installDirName(input.name).slice(0, 60)}-`),
  );
  let kill: (() => Promise<void>) | undefined;
  try {
    await fs.writeFile(path.join(work, "owner"), String(process.pid));
    const runDir = path.join(work, "vm");
    await fs.mkdir(runDir);
    progress("bootstrap", 0.05, `booting ${source.base}`);
    const launched = await launchVm(paths, {
      environment: input.base,
      runDir,
      vcpuCount: 2,
      memMib: 1024,
      network: input.network,
      ...(input.signal ? { signal: input.signal } : {}),
    });
    kill = launched.vm.kill;
    const agent = AgentConnection.attach(launched.vm.socket);

    for (const [index, copy] of source.copies.entries()) {
      progress("step", 0.1, `copy ${copy.host_path} -> ${copy.guest_path}`);
      await copyIn(agent, copy.host_path, copy.guest_path);
      void index;
    }
    for (const [index, step] of source.steps.entries()) {
      progress("step", 0.1 + (0.7 * index) / Math.max(1, source.steps.length), step);
      let tail = Buffer.alloc(0);
      const keep = (chunk: Buffer) => {
        tail = Buffer.concat([tail, chunk]);
        if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
      };
      const handle = agent.exec(
        { argv: ["/bin/sh", "-c", step], timeoutMs: input.stepTimeoutSeconds * 1000 },
        {
          onStdout: (chunk) => {
            keep(chunk);
            return input.onOutput?.onStdout?.(chunk);
          },
          onStderr: (chunk) => {
            keep(chunk);
            return input.onOutput?.onStderr?.(chunk);
          },
        },
      );
      const result = await handle.result;
      if (result.exitCode !== 0 || result.timedOut) {
        const output = tail.toString("utf8");
        throw new PyroError(
          "ENVIRONMENT_BUILD_STEP_FAILED",
          `step ${index + 1} (${step.slice(0, 200)}) ${result.timedOut ? "timed out" : `exited with ${result.exitCode}`}; nothing was saved${lastLine(output) ? ` (last output: ${lastLine(output)})` : ""}`,
          {
            hint: "Fix the --run step (run it in a workspace of the base first), then run `pyro env build` again.",
            details: {
              step: index + 1,
              exit_code: result.exitCode,
              timed_out: result.timedOut,
              output_tail: output,
            },
          },
        );
      }
    }
    progress("image", 0.85, "saving the root filesystem");
    // Flush the guest's page cache and journal; e2fsck below finishes what a crash would leave.
    await agent.exec({
      argv: ["/bin/sh", "-c", "sync; mount -o remount,ro / 2>/dev/null; sync"],
      timeoutMs: 60_000,
    }).result;
    await kill();
    kill = undefined;
    const rootfs = path.join(work, "rootfs.ext4");
    const fail = (tail: string) =>
      new PyroError(
        "ENVIRONMENT_BUILD_FAILED",
        `saving the built root failed: ${tail.slice(-300)}`,
        {
          hint: "Check free disk space in the cache directory, then build again.",
        },
      );
    await runTool(qemuImg, ["convert", "-O", "raw", path.join(runDir, "root.qcow2"), rootfs], {
      fail,
    });
    await runTool(e2fsck, ["-fy", rootfs], {
      fail: (tail) => fail(tail),
    }).catch(async (error: unknown) => {
      // e2fsck exits 1 when it fixed something (a replayed journal): that is success.
      const status = await runE2fsckCheck(e2fsck, rootfs);
      if (!status) throw error;
    });
    await fs.rm(runDir, { recursive: true, force: true });
    await shareKernel(input.base, work);
    const manifest: LocalManifest = {
      schema_version: MANIFEST_SCHEMA_VERSION,
      name: input.name,
      version: LOCAL_VERSION,
      kernel_version: input.base.kernel_version ?? "unknown",
      built_at: new Date().toISOString(),
      rootfs_bytes: (await fs.stat(rootfs)).size,
      source,
      image_env: input.baseImageEnv,
      working_dir: input.baseWorkingDir,
    };
    await fs.rm(path.join(work, "owner"), { force: true });
    await atomicWriteJson(path.join(work, "manifest.json"), manifest);
    await replaceDirectory(work, localDir(paths, input.name));
    progress("ready", 1);
  } finally {
    await kill?.().catch(() => undefined);
    await fs.rm(work, { recursive: true, force: true });
  }
}

const lastLine = (text: string): string => text.trimEnd().split("\n").pop()?.slice(0, 300) ?? "";

async function runE2fsckCheck(e2fsck: string, image: string): Promise<boolean> {
  return runTool(e2fsck, ["-fn", image], {
    fail: () => new PyroError("ENVIRONMENT_BUILD_FAILED", ""),
  }).then(
    () => true,
    () => false,
  );
}

/** Stream one host file into the guest through the agent (stdin of `cat`), creating parents. */
async function copyIn(agent: AgentConnection, hostPath: string, guestPath: string): Promise<void> {
  const handle = agent.exec(
    {
      argv: ["/bin/sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", guestPath],
      stdin: true,
      timeoutMs: 600_000,
    },
    {},
  );
  for await (const chunk of createReadStream(hostPath))
    await handle.writeStdinAsync(chunk as Buffer);
  handle.endStdin();
  const result = await handle.result;
  if (result.exitCode !== 0) {
    throw new PyroError(
      "ENVIRONMENT_BUILD_STEP_FAILED",
      `copying ${hostPath} to ${guestPath} in the guest failed (exit ${result.exitCode})`,
      {
        hint: "Pass --copy HOST_FILE:GUEST_PATH with an absolute guest path in a writable directory.",
      },
    );
  }
}
