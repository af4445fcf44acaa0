import { EventEmitter } from "node:events";
import type net from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PyroError } from "../../src/core/errors.js";
import { FreezeWatchdog, parseUsage, type GuestResult } from "../../src/supervisor/freeze.js";
import type { ClientLink } from "../../src/supervisor/mux.js";

/**
 * The supervisor's freeze watchdog with a scripted guest: the timing cases (a lease running out
 * while QMP works, a freeze that lands after its deadline) cannot be forced with a real VM.
 * tests/guest/snapshot-hostile.test.ts covers the same rules against a real guest.
 */
const DF = "Used IUsed\n4096 12\n";

function client(): ClientLink & { close(): void } {
  const socket = Object.assign(new EventEmitter(), { destroyed: false });
  return {
    id: 1,
    socket: socket as unknown as net.Socket,
    channels: new Map(),
    greeted: true,
    close() {
      socket.destroyed = true;
      socket.emit("close");
    },
  };
}

/** A guest whose /workspace freeze state the test can read; each command answers as scripted. */
function guest(script: Partial<Record<"freeze" | "thaw", () => Promise<GuestResult>>> = {}) {
  const state = { frozen: false, calls: [] as string[] };
  const run = async (argv: string[]): Promise<GuestResult> => {
    const thaw = argv[0] === "/run/pyro/agent" && argv[1] === "thaw";
    state.calls.push(thaw ? "thaw" : "freeze");
    const scripted = script[thaw ? "thaw" : "freeze"];
    if (scripted) return scripted();
    if (thaw) {
      if (!state.frozen)
        return { exitCode: 1, stdout: "", stderr: "thaw failed: Invalid argument" };
      state.frozen = false;
      return { exitCode: 0, stdout: "", stderr: "" };
    }
    if (state.frozen)
      return { exitCode: 1, stdout: DF, stderr: "freeze failed: Device or resource busy" };
    state.frozen = true;
    return { exitCode: 0, stdout: DF, stderr: "" };
  };
  return { state, watchdog: new FreezeWatchdog(run, "ws1", () => undefined) };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("freeze watchdog", () => {
  it("freeze then thaw: was_frozen true, usage reported, filesystem thawed", async () => {
    const { state, watchdog } = guest();
    const c = client();
    const reply = await watchdog.freeze(c, { lease_ms: 5000 });
    expect(reply).toMatchObject({ lease_ms: 5000, used_bytes: 4096, entry_count: 2 });
    expect(state.frozen).toBe(true);
    expect(await watchdog.thaw(c, { freeze_id: reply.freeze_id })).toEqual({ was_frozen: true });
    expect(state.frozen).toBe(false);
  });

  it("the client's connection closing (a killed CLI) thaws at once", async () => {
    const { state, watchdog } = guest();
    const c = client();
    await watchdog.freeze(c, {});
    c.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(state.frozen).toBe(false);
    expect(watchdog.frozen).toBe(false);
  });

  it("a lease that runs out thaws, and the late thaw answers was_frozen false", async () => {
    const { state, watchdog } = guest();
    const c = client();
    const reply = await watchdog.freeze(c, { lease_ms: 2000 });
    await vi.advanceTimersByTimeAsync(1999);
    expect(state.frozen).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.frozen).toBe(false);
    expect(await watchdog.thaw(c, { freeze_id: reply.freeze_id })).toEqual({ was_frozen: false });
  });

  it("one freeze at a time; another client cannot thaw someone else's freeze", async () => {
    const { state, watchdog } = guest();
    const [a, b] = [client(), client()];
    const reply = await watchdog.freeze(a, {});
    await expect(watchdog.freeze(b, {})).rejects.toMatchObject({ code: "WORKSPACE_BUSY" });
    expect(await watchdog.thaw(b, { freeze_id: reply.freeze_id })).toEqual({ was_frozen: false });
    expect(state.frozen).toBe(true);
    a.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(state.frozen).toBe(false);
    await expect(watchdog.freeze(b, {})).resolves.toMatchObject({ freeze_id: 2 });
  });

  it("a filesystem the guest froze itself: a typed refusal naming the fix", async () => {
    const { state, watchdog } = guest();
    state.frozen = true;
    const error = await watchdog.freeze(client(), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PyroError);
    expect(error).toMatchObject({
      code: "GUEST_ERROR",
      message: expect.stringMatching(/already frozen/),
    });
    expect((error as PyroError).hint).toMatch(/\/run\/pyro\/agent thaw \/workspace/);
  });

  it("a freeze that hits its deadline and lands later is thawed anyway; new freezes wait", async () => {
    const g = guest({
      freeze: () => {
        // The guest freezes after the host gave up.
        setTimeout(() => (g.state.frozen = true), 3000);
        return Promise.reject(new PyroError("GUEST_UNRESPONSIVE", "no answer"));
      },
    });
    await expect(g.watchdog.freeze(client(), {})).rejects.toMatchObject({
      code: "GUEST_UNRESPONSIVE",
    });
    await expect(g.watchdog.freeze(client(), {})).rejects.toMatchObject({ code: "WORKSPACE_BUSY" });
    await vi.advanceTimersByTimeAsync(3000);
    expect(g.state.frozen).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(g.state.frozen).toBe(false);
  });

  it("guest-reported usage is sanity-checked", () => {
    expect(parseUsage("Used IUsed\n-5 1e400\n")).toEqual({ used_bytes: 0, entry_count: 0 });
    expect(parseUsage("garbage")).toEqual({ used_bytes: 0, entry_count: 0 });
    expect(parseUsage(DF)).toEqual({ used_bytes: 4096, entry_count: 2 });
  });
});
