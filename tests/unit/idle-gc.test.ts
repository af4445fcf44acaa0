import { afterEach, describe, expect, it, vi } from "vitest";
import { collectWhenIdle } from "../../src/supervisor/idle-gc.js";
import {
  dropSupervisorMallocEnv,
  JEMALLOC_CONF,
  supervisorMallocEnv,
} from "../../src/supervisor/node-flags.js";

describe("supervisor idle collection", () => {
  const holder = globalThis as { gc?: () => void };
  const saved = holder.gc;
  afterEach(() => {
    vi.useRealTimers();
    holder.gc = saved;
  });

  it("collects once after traffic stops, never while it flows or while idle throughout", () => {
    vi.useFakeTimers();
    const gc = vi.fn();
    holder.gc = gc;
    let bytes = 0;
    const stop = collectWhenIdle(() => bytes, 1000);
    vi.advanceTimersByTime(5000); // idle from the start: nothing to give back
    expect(gc).not.toHaveBeenCalled();
    for (let i = 0; i < 5; i += 1) {
      bytes += 65536;
      vi.advanceTimersByTime(1000);
    }
    expect(gc).not.toHaveBeenCalled(); // busy every period
    vi.advanceTimersByTime(1000);
    expect(gc).toHaveBeenCalledTimes(1); // the first quiet period after the burst
    vi.advanceTimersByTime(10_000);
    expect(gc).toHaveBeenCalledTimes(1);
    stop();
  });

  it("does nothing when the process was started without --expose-gc", () => {
    vi.useFakeTimers();
    holder.gc = undefined;
    let bytes = 0;
    const stop = collectWhenIdle(() => (bytes += 1), 1000);
    vi.advanceTimersByTime(5000);
    expect(bytes).toBe(0); // not even polled
    stop();
  });
});

describe("supervisor allocator", () => {
  it("preloads jemalloc when the host has it, glibc settings otherwise or on request", () => {
    const jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
    expect(supervisorMallocEnv({}, () => jemalloc)).toEqual({
      LD_PRELOAD: jemalloc,
      MALLOC_CONF: JEMALLOC_CONF,
    });
    expect(supervisorMallocEnv({}, () => undefined)).toHaveProperty("MALLOC_MMAP_THRESHOLD_");
    expect(
      supervisorMallocEnv({ PYRO_SUPERVISOR_MALLOC: "glibc" }, () => jemalloc),
    ).not.toHaveProperty("LD_PRELOAD");
    expect(supervisorMallocEnv({ PYRO_SUPERVISOR_MALLOC: "0" }, () => jemalloc)).toEqual({});
  });

  it("keeps the supervisor's allocator away from QEMU and the tools it runs", () => {
    const env: NodeJS.ProcessEnv = {
      ...supervisorMallocEnv({}, () => "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
      MALLOC_MMAP_THRESHOLD_: "8192",
      PATH: "/usr/bin",
    };
    dropSupervisorMallocEnv(env);
    expect(env).toEqual({ PATH: "/usr/bin" });
    const user: NodeJS.ProcessEnv = { LD_PRELOAD: "/opt/libfoo.so" };
    dropSupervisorMallocEnv(user);
    expect(user.LD_PRELOAD).toBe("/opt/libfoo.so"); // not ours: left alone
  });
});
