import { mkdirSync } from "node:fs";
import path from "node:path";

/**
 * Two test files run at once (vitest.config.ts): each worker gets its own state directory under
 * the suite's, so a file's checks that no VM outlived it (qemuProcesses(stateDir())) see only its
 * own VMs. The environment and warm-state caches stay shared, as for concurrent users.
 */
const suiteDir = process.env.PYRO_SUITE_STATE_DIR;
if (suiteDir) {
  const workerDir = path.join(suiteDir, `worker-${process.env.VITEST_POOL_ID ?? "0"}`);
  mkdirSync(workerDir, { recursive: true });
  process.env.PYRO_STATE_DIR = workerDir;
}
