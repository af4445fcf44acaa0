import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { WorkspaceManager } from "../../src/core/manager.js";
import { qemuProcesses } from "./cli.js";
import { REPO_ROOT } from "./paths.js";

/**
 * Runs once before the suite: the CLI tests run the built CLI, so the build must exist, and the
 * guest-backed tests need debian:12 installed (pulled here if missing). State goes to a private
 * directory so tests never see a developer's workspaces; the environment cache is shared.
 */
export default async function setup(): Promise<() => void> {
  for (const file of ["dist/src/cli/main.js", "build/agent/pyro-agent"]) {
    if (!existsSync(path.join(REPO_ROOT, file))) {
      throw new Error(
        `${file} is missing: run \`make build\` (or \`make check\`, which builds first)`,
      );
    }
  }
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "pyro-test-"));
  process.env.PYRO_STATE_DIR = stateDir;
  // Each worker then uses a directory of its own under it (tests/support/worker-state.ts).
  process.env.PYRO_SUITE_STATE_DIR = stateDir;
  await new WorkspaceManager().pullEnvironment("debian:12");
  return () => {
    // Like Firecracker's memory check after every test VM: no QEMU may outlive the suite.
    const leftovers = qemuProcesses(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
    if (leftovers.length > 0)
      throw new Error(`QEMU processes left behind:\n${leftovers.join("\n")}`);
  };
}
