import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { inheritLock, readLockHolder, withLock, type LockHolder } from "../../src/core/lock.js";
import { PyroError } from "../../src/core/errors.js";

/** The cross-process lock that guards workspaces and environments: holders, deadlines, takeover. */
const root = mkdtempSync(path.join(os.tmpdir(), "pyro-lock-"));
let n = 0;
const lockPath = () => path.join(root, `lock-${++n}`);
const sleepers: ChildProcess[] = [];
afterEach(() => sleepers.splice(0).forEach((c) => c.kill("SIGKILL")));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A lock held by another live process, as its owner file says. */
function heldBy(
  lockDir: string,
  holder: Partial<LockHolder> & { deadline?: number | null },
): LockHolder {
  const sleeper = spawn("sleep", ["60"]);
  sleepers.push(sleeper);
  const full = {
    pid: sleeper.pid as number,
    token: "other",
    operation: "snapshot",
    deadline: null,
    ...holder,
  };
  mkdirSync(lockDir);
  writeFileSync(path.join(lockDir, "owner"), JSON.stringify(full));
  return { ...full, deadline: full.deadline ?? Infinity } as LockHolder;
}

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => "ok",
    (error: unknown) => (error instanceof PyroError ? error.code : String(error)),
  );

describe("lock", () => {
  it("lock: concurrent holders run one at a time, and the lock records holder, operation and deadline", async () => {
    const dir = lockPath();
    let inside = 0;
    let most = 0;
    const seen: (LockHolder | undefined)[] = [];
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withLock(
          dir,
          async () => {
            most = Math.max(most, ++inside);
            seen.push(await readLockHolder(dir));
            await new Promise((r) => setTimeout(r, 20));
            inside--;
          },
          { operation: "reset", holdMs: 60_000 },
        ),
      ),
    );
    expect(most).toBe(1);
    expect(seen[0]).toMatchObject({ pid: process.pid, operation: "reset" });
    expect(seen[0]?.deadline).toBeGreaterThan(Date.now());
    expect(await readLockHolder(dir)).toBeUndefined();
  });

  it("lock: re-entering a lock in the same call chain does not deadlock", async () => {
    const dir = lockPath();
    const result = await withLock(dir, () => withLock(dir, async () => "nested", { timeoutMs: 0 }));
    expect(result).toBe("nested");
  });

  it("lock: a lock whose holder died is taken over (also an old bare-pid lock)", async () => {
    const dead = spawn("true");
    await new Promise((r) => dead.once("exit", r));
    const dir = lockPath();
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, "owner"),
      JSON.stringify({ pid: dead.pid, token: "t", operation: "create", deadline: null }),
    );
    expect(await withLock(dir, async () => "taken", { timeoutMs: 0 })).toBe("taken");
    const old = lockPath();
    mkdirSync(old);
    writeFileSync(path.join(old, "owner"), String(dead.pid));
    expect(await withLock(old, async () => "taken", { timeoutMs: 0 })).toBe("taken");
  });

  it("lock: a live holder past its deadline is taken over; within it, waiters get LOCK_TIMEOUT naming the holder", async () => {
    const late = lockPath();
    heldBy(late, { deadline: Date.now() - 1 });
    expect(await withLock(late, async () => "taken", { timeoutMs: 0 })).toBe("taken");

    const busy = lockPath();
    const holder = heldBy(busy, { deadline: Date.now() + 60_000 });
    const error = await withLock(busy, async () => "no", { timeoutMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PyroError);
    expect((error as PyroError).code).toBe("LOCK_TIMEOUT");
    expect((error as PyroError).hint).toContain(`pid ${holder.pid}, snapshot`);
  });

  it("lock: a waiter that preempts (onBusy) is told the holder once, and gets the lock when the holder lets go", async () => {
    const dir = lockPath();
    const holder = heldBy(dir, {});
    const told: LockHolder[] = [];
    const result = await withLock(dir, async () => "won", {
      busyAfterMs: 50,
      timeoutMs: 10_000,
      onBusy: (h) => {
        told.push(h);
        // Like reset stopping the VM: the holder fails and releases.
        sleepers.find((s) => s.pid === h.pid)?.kill("SIGKILL");
      },
    });
    expect(result).toBe("won");
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ pid: holder.pid, operation: "snapshot" });
  });

  it("lock: a holder taken over past its deadline does not release its successor's lock", async () => {
    const dir = lockPath();
    let successor: LockHolder | undefined;
    await withLock(
      dir,
      async () => {
        // Our deadline passes and a waiter (elsewhere) takes the lock over while we still run.
        await new Promise((r) => setTimeout(r, 30));
        rmSync(dir, { recursive: true });
        mkdirSync(dir);
        successor = {
          pid: process.pid,
          token: "successor",
          operation: "reset",
          deadline: Infinity,
        };
        writeFileSync(path.join(dir, "owner"), JSON.stringify({ ...successor, deadline: null }));
      },
      { holdMs: 1 },
    );
    expect(JSON.parse(readFileSync(path.join(dir, "owner"), "utf8"))).toMatchObject({
      token: "successor",
    });
  });

  it("lock: a process handed the holder's token (the supervisor at boot) acts inside the held lock", async () => {
    const dir = lockPath();
    const holder = heldBy(dir, { token: "boot-token", operation: "reset" });
    expect(await code(withLock(dir, async () => undefined, { timeoutMs: 0 }))).toBe("LOCK_TIMEOUT");
    inheritLock(dir, holder.token);
    expect(await withLock(dir, async () => "inside", { timeoutMs: 0 })).toBe("inside");
    // The holder still holds it: nothing was released on its behalf.
    expect((await readLockHolder(dir))?.token).toBe("boot-token");
  });
});
