import { execFile } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { PyroError } from "../core/errors.js";

export const execFileAsync = promisify(execFile);

/** Host programs pyro drives, with the Debian package that provides each. */
export const HOST_TOOLS = {
  qemu: { binary: "qemu-system-x86_64", pkg: "qemu-system-x86" },
  qemuImg: { binary: "qemu-img", pkg: "qemu-utils" },
  mkfs: { binary: "mkfs.ext4", pkg: "e2fsprogs" },
  debootstrap: { binary: "debootstrap", pkg: "debootstrap" },
  cpio: { binary: "cpio", pkg: "cpio" },
  busybox: { binary: "busybox", pkg: "busybox-static" },
  setpriv: { binary: "setpriv", pkg: "util-linux" },
  prlimit: { binary: "prlimit", pkg: "util-linux" },
  debugfs: { binary: "debugfs", pkg: "e2fsprogs" },
  e2fsck: { binary: "e2fsck", pkg: "e2fsprogs" },
  skopeo: { binary: "skopeo", pkg: "skopeo" },
  umoci: { binary: "umoci", pkg: "umoci" },
  unshare: { binary: "unshare", pkg: "util-linux" },
} as const;

export type HostTool = keyof typeof HOST_TOOLS;

const SEARCH_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Absolute path of a host tool, or undefined. `PYRO_<TOOL>` (e.g. PYRO_QEMU) overrides. */
export function findTool(tool: HostTool): string | undefined {
  const override = process.env[`PYRO_${tool.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`];
  if (override !== undefined) return isExecutable(override) ? override : undefined;
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...SEARCH_PATH];
  for (const dir of dirs) {
    const candidate = path.join(dir, HOST_TOOLS[tool].binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function requireTool(tool: HostTool): string {
  const found = findTool(tool);
  if (found) return found;
  const { binary, pkg } = HOST_TOOLS[tool];
  throw new PyroError("HOST_TOOL_MISSING", `${binary} is not installed on this host`, {
    hint: `Install it with \`apt-get install ${pkg}\` (or run \`make setup\`).`,
    details: { tool: binary, package: pkg },
  });
}

export async function qemuVersion(): Promise<string | undefined> {
  const qemu = findTool("qemu");
  if (!qemu) return undefined;
  try {
    const { stdout } = await execFileAsync(qemu, ["--version"]);
    return /version ([0-9][^\s]*)/.exec(stdout)?.[1] ?? stdout.split("\n")[0];
  } catch {
    return undefined;
  }
}

/** The host's TSC rate in kHz (from /proc/cpuinfo), or undefined when it cannot be read. */
export function hostTscKhz(): number | undefined {
  try {
    const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
    const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1]);
    return Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : undefined;
  } catch {
    return undefined;
  }
}
