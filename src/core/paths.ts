import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where pyro keeps things. `PYRO_HOME` puts everything under one directory; `PYRO_CACHE_DIR` and
 * `PYRO_STATE_DIR` move one half each. Otherwise the XDG cache directory holds environments and the XDG state directory holds runs and
 * workspaces.
 */
export interface PyroPaths {
  cacheDir: string;
  stateDir: string;
}

export function resolvePaths(home: string | undefined = process.env.PYRO_HOME): PyroPaths {
  let defaults: PyroPaths;
  if (home !== undefined && home !== "") {
    const root = path.resolve(home);
    defaults = { cacheDir: path.join(root, "cache"), stateDir: path.join(root, "state") };
  } else {
    const xdgCache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    const xdgState = process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
    defaults = {
      cacheDir: path.join(xdgCache, "pyro-mcp"),
      stateDir: path.join(xdgState, "pyro-mcp"),
    };
  }
  // Each half can be moved on its own (tests share the environment cache, not the state).
  return {
    cacheDir: process.env.PYRO_CACHE_DIR
      ? path.resolve(process.env.PYRO_CACHE_DIR)
      : defaults.cacheDir,
    stateDir: process.env.PYRO_STATE_DIR
      ? path.resolve(process.env.PYRO_STATE_DIR)
      : defaults.stateDir,
  };
}

export const environmentsDir = (paths: PyroPaths): string =>
  path.join(paths.cacheDir, "environments");
export const bootCacheDir = (paths: PyroPaths): string => path.join(paths.cacheDir, "boot");
export const runsDir = (paths: PyroPaths): string => path.join(paths.stateDir, "runs");

/** The installed package's root (holds package.json, guest/ and build/agent/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "guest"))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the pyro-mcp package root");
    dir = parent;
  }
}

export const agentBinaryPath = (): string =>
  process.env.PYRO_AGENT_PATH || path.join(packageRoot(), "build", "agent", "pyro-agent");
export const guestInitPath = (): string => path.join(packageRoot(), "guest", "init", "init.sh");
