import { PyroError } from "../core/errors.js";
import { entriesFromInodes } from "../core/workspace/offline-usage.js";
import {
  FREEZE_DEADLINE_MS,
  FREEZE_LEASE_MS,
  MAX_FREEZE_LEASE_MS,
  MIN_FREEZE_LEASE_MS,
  THAW_DEADLINE_MS,
  type FreezeReply,
  type ThawReply,
} from "../protocol/supervisor-control.js";
import { ownExec } from "./agent-exec.js";
import type { ClientLink, Multiplexer } from "./mux.js";

/**
 * The /workspace freeze for live snapshots, owned by the supervisor so that no client can leave
 * the filesystem frozen: a freeze is a lease held by one client connection, and the watchdog
 * thaws when that client sends `thaw`, when its connection closes (a killed CLI), or when the
 * lease runs out. Every guest command runs under a host-side deadline.
 *
 * The freeze itself is the agent binary's `freeze|thaw PATH` mode (FIFREEZE/FITHAW), so it works in
 * any image, busybox and Alpine included. The guest is root in its own VM, so nothing in it (that
 * binary, which guest root can replace, kill or ptrace) can be trusted to freeze: a guest that lies about the
 * freeze only makes its own snapshot inconsistent. What the host guarantees is that a refusing or
 * hanging guest gives a typed error in bounded time and that the freeze never outlives its lease.
 */
const WORKSPACE = "/workspace";
/** Where init installs the static agent in every guest; its tool modes need nothing from the image. */
export const GUEST_AGENT = "/run/pyro/agent";
/** A freeze that hit its deadline may still land later in the guest: thaw again after this. */
const LATE_FREEZE_THAW_MS = 10_000;
const OUTPUT_CAP = 4096;

export interface GuestResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
/** Run argv in the guest; rejects with GUEST_UNRESPONSIVE when it does not finish by the deadline. */
export type GuestRunner = (argv: string[], deadlineMs: number) => Promise<GuestResult>;

export function unresponsive(workspaceId: string, what: string): PyroError {
  return new PyroError("GUEST_UNRESPONSIVE", `the guest did not ${what} in time`, {
    hint: `The guest may be overloaded or hostile; \`pyro workspace reset ${workspaceId}\` rebuilds it.`,
  });
}

/** A GuestRunner on the supervisor's own agent channels, with a host-side deadline. */
export function agentRunner(mux: Multiplexer, workspaceId: string): GuestRunner {
  return (argv, deadlineMs) =>
    new Promise<GuestResult>((resolve, reject) => {
      let stdout = "";
      let stderr = "";
      const exec = ownExec(
        mux,
        { argv, cwd: "/", timeoutMs: deadlineMs },
        {
          onStdout: (c) => (stdout = (stdout + c.toString("utf8")).slice(0, OUTPUT_CAP)),
          onStderr: (c) => (stderr = (stderr + c.toString("utf8")).slice(0, OUTPUT_CAP)),
        },
      );
      // The agent's own timeout comes first; this one covers an agent that does not answer.
      const timer = setTimeout(() => {
        exec.signal("KILL");
        mux.ownChannelHandlers.delete(exec.channel);
        reject(unresponsive(workspaceId, `finish \`${argv.join(" ")}\``));
      }, deadlineMs + 2_000);
      exec.result.then(
        (exit) => {
          clearTimeout(timer);
          if (exit.timedOut) reject(unresponsive(workspaceId, `finish \`${argv.join(" ")}\``));
          else resolve({ exitCode: exit.exitCode, stdout, stderr });
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
}

interface Hold {
  id: number;
  client: ClientLink;
  timer: NodeJS.Timeout;
  onClose: () => void;
}

export class FreezeWatchdog {
  private hold: Hold | undefined;
  /** A freeze is being taken, or a late one is being undone: refuse another. */
  private busy = false;
  private nextId = 1;
  /** Freeze and thaw commands never overlap in the guest. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly run: GuestRunner,
    private readonly workspaceId: string,
    private readonly log: (line: string) => void = (line) =>
      process.stderr.write(`supervisor: ${line}\n`),
  ) {}

  get frozen(): boolean {
    return this.hold !== undefined;
  }

  async freeze(client: ClientLink, body: Record<string, unknown>): Promise<FreezeReply> {
    if (this.hold || this.busy) {
      throw new PyroError(
        "WORKSPACE_BUSY",
        `another snapshot of workspace ${this.workspaceId} is in progress`,
        { hint: "Retry in a few seconds." },
      );
    }
    const lease = leaseMs(body.lease_ms);
    this.busy = true;
    let result: GuestResult;
    try {
      // Prints the usage first, then FIFREEZE (which syncs, then freezes).
      result = await this.serial(() =>
        this.run([GUEST_AGENT, "freeze", WORKSPACE], FREEZE_DEADLINE_MS),
      );
    } catch (error) {
      // Killed at the deadline, the freeze may still complete in the guest: undo it, twice.
      void this.thawLate().finally(() => (this.busy = false));
      throw error;
    }
    this.busy = false;
    if (result.exitCode !== 0) throw freezeRefused(this.workspaceId, result.stderr);
    const id = this.nextId++;
    const onClose = () => void this.release(id, "its client went away");
    const timer = setTimeout(() => void this.release(id, "its lease ran out"), lease);
    this.hold = { id, client, timer, onClose };
    client.socket.once("close", onClose);
    if (client.socket.destroyed) onClose();
    return { freeze_id: id, lease_ms: lease, ...parseUsage(result.stdout) };
  }

  async thaw(client: ClientLink, body: Record<string, unknown>): Promise<ThawReply> {
    const hold = this.hold;
    if (!hold || hold.id !== body.freeze_id || hold.client !== client) return { was_frozen: false };
    await this.release(hold.id);
    return { was_frozen: true };
  }

  /** End the hold `id` (if it is still the current one) and thaw; `reason` set: the watchdog. */
  private async release(id: number, reason?: string): Promise<void> {
    const hold = this.hold;
    if (!hold || hold.id !== id) return;
    this.hold = undefined;
    clearTimeout(hold.timer);
    hold.client.socket.off("close", hold.onClose);
    if (reason) this.log(`thawing /workspace: ${reason}`);
    const thawed = this.thawNow();
    if (reason) return thawed.catch((error: Error) => this.log(`thaw failed: ${error.message}`));
    return thawed;
  }

  private async thawNow(): Promise<void> {
    const result = await this.serial(() =>
      this.run([GUEST_AGENT, "thaw", WORKSPACE], THAW_DEADLINE_MS),
    );
    if (result.exitCode !== 0 && !/invalid argument/i.test(result.stderr)) {
      throw new PyroError(
        "GUEST_ERROR",
        `the guest could not thaw /workspace: ${clean(result.stderr) || `exit ${result.exitCode}`}`,
        { hint: `\`pyro workspace reset ${this.workspaceId}\` rebuilds the guest.` },
      );
    }
  }

  private async thawLate(): Promise<void> {
    for (const delay of [0, LATE_FREEZE_THAW_MS]) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      await this.thawNow().catch((error: Error) =>
        this.log(`thaw after a late freeze: ${error.message}`),
      );
    }
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function leaseMs(value: unknown): number {
  if (value === undefined) return FREEZE_LEASE_MS;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new PyroError("INVALID_ARGUMENT", "lease_ms must be an integer");
  }
  return Math.min(MAX_FREEZE_LEASE_MS, Math.max(MIN_FREEZE_LEASE_MS, value));
}

function clean(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "?")
      .trim()
      .slice(0, 500)
  );
}

function freezeRefused(workspaceId: string, stderr: string): PyroError {
  // EBUSY from FIFREEZE: "Device or resource busy".
  const busy = /\bbusy\b/i.test(stderr);
  return new PyroError(
    "GUEST_ERROR",
    busy
      ? "/workspace is already frozen inside the guest, so it cannot be frozen for a snapshot"
      : `the guest could not freeze /workspace: ${clean(stderr) || "the freeze failed"}`,
    {
      hint: busy
        ? `Thaw it (\`pyro workspace exec ${workspaceId} -- ${GUEST_AGENT} thaw /workspace\`) or reset the workspace, then retry.`
        : `Check that ${GUEST_AGENT} is intact in the guest, or \`pyro workspace reset ${workspaceId}\`.`,
    },
  );
}

/** The "used iused" line under a header (the agent's `usage`/`freeze`, as `df -B1 --output=used,iused`); the guest may lie, so keep only sane, finite, non-negative numbers. */
export function parseUsage(stdout: string): { used_bytes: number; entry_count: number } {
  const [used, iused] = (stdout.trim().split("\n")[1] ?? "").trim().split(/\s+/).map(Number);
  const sane = (n: number | undefined) =>
    n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : 0;
  return { used_bytes: sane(used), entry_count: entriesFromInodes(sane(iused)) };
}
