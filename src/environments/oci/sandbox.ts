import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import readline from "node:readline";
import { PyroError } from "../../core/errors.js";
import { requireTool } from "../../runtime/host-tools.js";

/**
 * Image layers are unpacked (and the ext4 root built from them) as root of a private user
 * namespace whose uids 0..65535 are host uids SANDBOX_UID.. SANDBOX_UID+65535. Inside, umoci can
 * chown, set modes and setuid bits as the image says; on the host every file it makes belongs to
 * an unprivileged uid that owns nothing else, so a layer that escapes its directory anyway meets
 * plain permission checks: it can neither write nor read a host file that is not world-readable,
 * and it cannot make device nodes at all (mknod needs host root).
 */
export const SANDBOX_UID = 100000;
export const SANDBOX_RANGE = 65536;

export interface SandboxRun {
  argv: string[];
  cwd: string;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

/** Run argv as root of a fresh user namespace mapped onto the sandbox uid range. */
export function runInSandbox(run: SandboxRun): Promise<void> {
  const setpriv = requireTool("setpriv");
  const unshare = requireTool("unshare");
  return new Promise((resolve, reject) => {
    // The child waits on stdin until its uid/gid maps are written; only then does it exec argv.
    const child = spawn(
      setpriv,
      [
        `--reuid=${SANDBOX_UID}`,
        `--regid=${SANDBOX_UID}`,
        "--clear-groups",
        unshare,
        "--user",
        "--",
        "/bin/sh",
        "-c",
        'read go && [ "$go" = go ] && exec "$@"',
        "sh",
        ...run.argv,
      ],
      {
        cwd: run.cwd,
        stdio: ["pipe", "pipe", "pipe"],
        env: { PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", LC_ALL: "C", HOME: run.cwd },
        ...(run.signal ? { signal: run.signal } : {}),
      },
    );
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        run.onLine?.(line);
      });
    }
    child.stdin.on("error", () => undefined);
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      child.kill("SIGKILL");
      reject(error);
    };
    child.once("error", fail);
    child.once("close", (code, signal) => {
      if (settled) return;
      settled = true;
      if (code === 0) return resolve();
      reject(
        new PyroError(
          "IMAGE_PULL_FAILED",
          `${run.argv[0]} failed in the unpack sandbox (${signal ?? `exit ${code}`}): ${tail.slice(-3).join(" | ")}`,
          {
            hint: "The image could not be unpacked; check that it is a valid Linux amd64 image.",
            details: { output_tail: tail.join("\n") },
          },
        ),
      );
    });
    void mapAndRelease(child.pid).then(
      () => child.stdin.end("go\n"),
      (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
    );
  });
}

async function mapAndRelease(pid: number | undefined): Promise<void> {
  if (pid === undefined) throw new Error("sandbox process did not start");
  const ours = await fs.readlink("/proc/self/ns/user");
  // Wait (bounded) until the child has entered its own user namespace.
  for (let tries = 0; tries < 500; tries++) {
    const theirs = await fs.readlink(`/proc/${pid}/ns/user`).catch(() => ours);
    if (theirs !== ours) {
      const map = `0 ${SANDBOX_UID} ${SANDBOX_RANGE}\n`;
      await fs.writeFile(`/proc/${pid}/uid_map`, map);
      await fs.writeFile(`/proc/${pid}/gid_map`, map);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new PyroError("IMAGE_PULL_FAILED", "the unpack sandbox did not start in time", {
    hint: "Check that user namespaces are enabled (sysctl user.max_user_namespaces).",
  });
}
