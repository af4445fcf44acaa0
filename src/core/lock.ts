import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "./errors.js";
import { processAlive } from "./fs.js";

/**
 * A cross-process lock: a directory that appears atomically (renamed into place) holding an
 * `owner` file that names its holder: pid, a token, the operation and a deadline. A waiter takes
 * over a lock whose holder died or is past its deadline, so neither a killed process nor a hung
 * one wedges what the lock guards.
 */
export interface LockHolder {
  pid: number;
  token: string;
  operation: string;
  /** Epoch ms after which a waiter may take the lock over; Infinity for "while the holder lives". */
  deadline: number;
}

export interface LockOptions {
  /** How long to wait for the lock before LOCK_TIMEOUT (0: try once). */
  timeoutMs?: number;
  /** The holder's deadline, recorded in the lock; past it a waiter takes the lock over. */
  holdMs?: number;
  /** Recorded as the holder's operation, for waiters and error messages. */
  operation?: string;
  /** Named in LOCK_TIMEOUT errors. */
  what?: string;
  /** Called once per live holder that keeps the lock for longer than busyAfterMs. */
  onBusy?: (holder: LockHolder) => Promise<void> | void;
  busyAfterMs?: number;
}

/** Locks held by the current async call chain: re-entering one of them runs the action at once. */
const held = new AsyncLocalStorage<Map<string, LockHolder>>();
/** Tokens handed to this process by a parent that holds the lock for it (the supervisor at boot). */
const inherited = new Map<string, string>();

/** Let this process act inside a lock its parent holds, for as long as the parent holds it. */
export function inheritLock(lockDir: string, token: string): void {
  inherited.set(path.resolve(lockDir), token);
}

/** The holder named in a lock's owner file (older locks hold a bare pid), or undefined. */
export async function readLockHolder(lockDir: string): Promise<LockHolder | undefined> {
  const text = await fs.readFile(path.join(lockDir, "owner"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text.trim())) {
    return { pid: Number(text.trim()), token: "", operation: "unknown", deadline: Infinity };
  }
  try {
    const value = JSON.parse(text) as Partial<LockHolder> & { deadline?: number | null };
    if (typeof value.pid !== "number" || typeof value.token !== "string") return undefined;
    return {
      pid: value.pid,
      token: value.token,
      operation: typeof value.operation === "string" ? value.operation : "unknown",
      deadline: typeof value.deadline === "number" ? value.deadline : Infinity,
    };
  } catch {
    return undefined;
  }
}

/** The holder if the lock is held by a live process within its deadline. */
export async function liveLockHolder(lockDir: string): Promise<LockHolder | undefined> {
  const holder = await readLockHolder(lockDir);
  return holder && processAlive(holder.pid) && Date.now() <= holder.deadline ? holder : undefined;
}

async function tryAcquire(lockDir: string, holder: LockHolder): Promise<boolean> {
  // Build the lock beside its place and rename it in: a visible lock always names its holder.
  const temp = `${lockDir}.new-${holder.token}`;
  await fs.mkdir(temp, { recursive: true });
  await fs.writeFile(
    path.join(temp, "owner"),
    JSON.stringify({
      ...holder,
      deadline: Number.isFinite(holder.deadline) ? holder.deadline : null,
    }),
  );
  try {
    await fs.rename(temp, lockDir);
    return true;
  } catch (error) {
    await fs.rm(temp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST") return false;
    throw error;
  }
}

/** Remove a lock whose holder is `expected`; a lock taken over meanwhile is put back. */
async function breakLock(lockDir: string, expected: LockHolder): Promise<void> {
  const stale = `${lockDir}.stale-${randomBytes(4).toString("hex")}`;
  try {
    await fs.rename(lockDir, stale);
  } catch {
    return; // released or broken by someone else
  }
  const moved = await readLockHolder(stale);
  if (moved && moved.token !== expected.token) {
    // Another waiter broke the stale lock and took it between our read and our rename.
    await fs.rename(stale, lockDir).catch(() => undefined);
    return;
  }
  await fs.rm(stale, { recursive: true, force: true });
}

/** Release a lock only if it is still ours: a waiter may have taken it over past our deadline. */
async function release(lockDir: string, holder: LockHolder): Promise<void> {
  const current = await readLockHolder(lockDir);
  if (current?.token !== holder.token) return;
  const gone = `${lockDir}.released-${holder.token}`;
  await fs.rename(lockDir, gone).then(
    () => fs.rm(gone, { recursive: true, force: true }),
    () => undefined,
  );
}

const ORPHAN_LOCK_MS = 10_000;

async function ageMs(dir: string): Promise<number> {
  const stat = await fs.stat(dir).catch(() => undefined);
  return stat ? Date.now() - stat.mtimeMs : 0;
}

export async function withLock<T>(
  lockDir: string,
  action: (holder: LockHolder) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  lockDir = path.resolve(lockDir);
  const outer = held.getStore()?.get(lockDir);
  if (outer) return action(outer);
  const current = await readLockHolder(lockDir);
  if (current && current.token !== "" && inherited.get(lockDir) === current.token) {
    return action(current);
  }

  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const waitDeadline = Date.now() + timeoutMs;
  const busyAfterMs = options.busyAfterMs ?? 1000;
  const mine: LockHolder = {
    pid: process.pid,
    token: randomBytes(8).toString("hex"),
    operation: options.operation ?? "unknown",
    deadline: Infinity,
  };
  const seen = new Map<string, number>();
  const notified = new Set<string>();
  await fs.mkdir(path.dirname(lockDir), { recursive: true });
  for (;;) {
    mine.deadline = options.holdMs === undefined ? Infinity : Date.now() + options.holdMs;
    if (await tryAcquire(lockDir, mine)) break;
    const holder = await readLockHolder(lockDir);
    if (holder && (!processAlive(holder.pid) || Date.now() > holder.deadline)) {
      await breakLock(lockDir, holder);
      continue;
    }
    if (!holder && (await ageMs(lockDir)) > ORPHAN_LOCK_MS) {
      // A lock without a readable owner (written by something else, or damaged) is not honoured forever.
      await breakLock(lockDir, { pid: 0, token: "", operation: "unknown", deadline: 0 });
      continue;
    }
    if (holder && options.onBusy && !notified.has(holder.token)) {
      const since = seen.get(holder.token) ?? Date.now();
      seen.set(holder.token, since);
      if (Date.now() - since >= busyAfterMs) {
        notified.add(holder.token);
        await options.onBusy(holder);
        continue;
      }
    }
    if (Date.now() >= waitDeadline) {
      throw new PyroError("LOCK_TIMEOUT", `timed out waiting for ${options.what ?? lockDir}`, {
        hint: `Another pyro process (pid ${holder?.pid ?? "unknown"}, ${holder?.operation ?? "unknown operation"}) holds it; wait for it or stop it.`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const locks = new Map(held.getStore() ?? []);
  locks.set(lockDir, mine);
  try {
    return await held.run(locks, () => action(mine));
  } finally {
    await release(lockDir, mine);
  }
}
