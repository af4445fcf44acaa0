import { afterEach, describe, expect, it, vi } from "vitest";
import { collectWhenIdle } from "../../src/supervisor/idle-gc.js";

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
