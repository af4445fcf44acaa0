import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Guest-backed tests boot real VMs under TCG on two cores. Two files at a time: a guest
    // command mostly waits on one vCPU thread, so two streams keep both cores busy; each worker
    // has its own state directory (tests/support/worker-state.ts).
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
    setupFiles: ["tests/support/worker-state.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    globalSetup: ["tests/support/global-setup.ts"],
  },
});
