import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePaths } from "../../src/core/paths.js";
import { workspaceFiles } from "../../src/core/workspace/layout.js";
import { parseJson, pyro, qemuProcesses } from "../support/cli.js";
import { createWorkspace, seedDirectory, wsExec, type Record_ } from "../support/workspace.js";

/**
 * Snapshots under attack, through the real CLI against a real VM: a CLI killed while /workspace is
 * frozen, a guest that holds or hangs the freeze, a VM that stops answering, a snapshot during a
 * reset's boot, and SIGKILL of the CLI, the supervisor and QEMU at each snapshot fault point
 * (the cases tests/guest/snapshot-reset.test.ts does not already cover).
 */
let ws: Record_;
const id = () => ws.workspace_id;
const files = () => workspaceFiles(resolvePaths(), id());
const LEASE_MS = 15_000;

interface ErrorJson {
  error: { code: string; message: string; hint?: string };
}
const status = async () =>
  parseJson<Record_>((await pyro(["workspace", "status", id(), "--json"])).stdout).state;
const listed = async () =>
  parseJson<{ snapshots: { snapshot_name: string }[] }>(
    (await pyro(["workspace", "snapshot", "list", id(), "--json"])).stdout,
  ).snapshots.map((s) => s.snapshot_name);
const create = (name: string, env: Record<string, string> = {}) =>
  pyro(["workspace", "snapshot", "create", id(), name, "--json"], { env });
const errorOf = (stdout: string) => parseJson<ErrorJson>(stdout).error;
/** Disk snapshots in workspace.qcow2, as qemu-img sees them (user names only). */
const onDisk = () =>
  execFileSync("qemu-img", ["snapshot", "-U", "-l", files().workspaceDisk], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[1] ?? "")
    .filter((n) => n.startsWith("n-"))
    .map((n) => n.slice(2))
    .sort();
const indexed = () =>
  (
    JSON.parse(readFileSync(`${files().dir}/snapshots.json`, "utf8")) as {
      snapshots: { snapshot_name: string; kind: string }[];
    }
  ).snapshots
    .filter((s) => s.kind === "named")
    .map((s) => s.snapshot_name)
    .sort();
const qemuPid = () => {
  const supervisor = readFileSync(files().supervisorPid, "utf8").trim();
  return Number(readFileSync(`/proc/${supervisor}/task/${supervisor}/children`, "utf8").trim());
};
/** A write to /workspace that must finish; the guest's own timeout bounds a frozen filesystem. */
const writable = async () =>
  (await wsExec(id(), "timeout 20 sh -c 'echo ok > /workspace/probe && cat /workspace/probe'"))
    .stdout;
/** Create, retrying while the supervisor still undoes a freeze that timed out. */
async function createEventually(name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await create(name);
    if (result.status === 0) return;
    expect(errorOf(result.stdout).code).toBe("WORKSPACE_BUSY");
    if (Date.now() > deadline) throw new Error(`snapshot create ${name} kept failing`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

beforeAll(async () => {
  ws = await createWorkspace(["--seed-path", seedDirectory({ "a.txt": "a\n" })]);
});
afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", id()]);
  if (ws) expect(qemuProcesses(id())).toEqual([]);
});

describe("snapshot freeze owned by the supervisor", () => {
  it("a CLI killed while /workspace is frozen: writable again within the lease, status honest, next create works", async () => {
    const killed = await create("k1", { PYRO_FAULT: "snapshot-create:frozen" });
    expect(killed.signal).toBe("SIGKILL");
    const started = Date.now();
    expect(await writable()).toBe("ok\n");
    expect(Date.now() - started).toBeLessThan(LEASE_MS);
    expect(await status()).toBe("started");
    expect(await listed()).not.toContain("k1");
    expect((await create("k1")).status).toBe(0);
    expect(await listed()).toContain("k1");
    expect(onDisk()).toEqual(indexed());
  });

  it("hostile guest holds the freeze itself: a clear refusal, no hang, and the lock is free", async () => {
    expect((await wsExec(id(), "fsfreeze -f /workspace")).status).toBe(0);
    const refused = await create("held");
    expect(refused.status).toBe(1);
    expect(errorOf(refused.stdout)).toMatchObject({
      code: "GUEST_ERROR",
      message: expect.stringMatching(/already frozen/),
      hint: expect.stringMatching(/\/run\/pyro\/agent thaw \/workspace/),
    });
    expect(await listed()).not.toContain("held");
    // The hint's own command thaws it.
    expect((await wsExec(id(), "/run/pyro/agent thaw /workspace")).status).toBe(0);
    expect(await writable()).toBe("ok\n");
    expect((await create("held")).status).toBe(0);
  });

  it("hostile guest replaces the agent binary's freeze with one that hangs: GUEST_UNRESPONSIVE in bounded time, lock released", async () => {
    const a = "/run/pyro/agent";
    const fake = `cp ${a} ${a}.real && printf '#!/bin/sh\\n[ "$1" = freeze ] && exec sleep 1000\\nexec ${a}.real "$@"\\n' > ${a}.new && chmod 755 ${a}.new && mv ${a}.new ${a}`;
    expect((await wsExec(id(), fake)).status).toBe(0);
    const started = Date.now();
    const hung = await create("hung");
    expect(Date.now() - started).toBeLessThan(40_000);
    expect(hung.status).toBe(1);
    expect(errorOf(hung.stdout)).toMatchObject({
      code: "GUEST_UNRESPONSIVE",
      hint: expect.stringContaining(`pyro workspace reset ${id()}`),
    });
    // The lock is free: list answers, and nothing half-made is listed.
    expect(await listed()).not.toContain("hung");
    expect(await writable()).toBe("ok\n");
    expect((await wsExec(id(), "mv /run/pyro/agent.real /run/pyro/agent")).status).toBe(0);
    await createEventually("hung");
  });

  it("a VM that stops answering (QEMU stopped) mid-snapshot: GUEST_UNRESPONSIVE, lock released, recovers", async () => {
    const pid = qemuPid();
    process.kill(pid, "SIGSTOP");
    try {
      const started = Date.now();
      const stuck = await create("stopped");
      expect(Date.now() - started).toBeLessThan(40_000);
      expect(errorOf(stuck.stdout)).toMatchObject({ code: "GUEST_UNRESPONSIVE" });
      expect(await status()).toBe("started");
      expect(await listed()).not.toContain("stopped");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await createEventually("stopped");
    expect(await writable()).toBe("ok\n");
    expect(onDisk()).toEqual(indexed());
  });

  it("snapshot create during a reset's boot waits for the boot, then snapshots the reset VM", async () => {
    const reset = pyro(["workspace", "reset", id()]);
    const record = files().record;
    const deadline = Date.now() + 30_000;
    while ((JSON.parse(readFileSync(record, "utf8")) as Record_).state !== "starting") {
      if (Date.now() > deadline) throw new Error("reset never reached starting");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The reset holds the workspace lock until its VM is up: the snapshot serializes behind it
    // instead of racing the boot for the disk (a qemu-img lock error, INTERNAL, in 2.8.0).
    const during = await create("booting");
    expect((await reset).status).toBe(0);
    expect(during.status).toBe(0);
    expect(await status()).toBe("started");
    expect(await listed()).toContain("booting");
    expect(onDisk()).toEqual(indexed());
  });
});

describe("kill matrix: SIGKILL of the supervisor or QEMU at each snapshot step", () => {
  const cases: [string, "supervisor" | "qemu", "create" | "delete"][] = [
    ["snapshot-create:frozen", "qemu", "create"],
    ["snapshot-create:disk-done", "supervisor", "create"],
    ["snapshot-create:disk-done", "qemu", "create"],
    ["snapshot-delete:index-done", "supervisor", "delete"],
    ["snapshot-delete:index-done", "qemu", "delete"],
  ];
  for (const [step, victim, op] of cases) {
    it(`${victim} killed at ${step}: status crashed, list and disk agree, reset recovers, nothing left running`, async () => {
      const name = `m-${victim}-${op}`;
      if (op === "delete") expect((await create(name)).status).toBe(0);
      const before = await listed();
      const env = { PYRO_FAULT: step, PYRO_FAULT_KILL: victim };
      const result =
        op === "create"
          ? await create(name, env)
          : await pyro(["workspace", "snapshot", "delete", id(), name, "--json"], { env });
      expect(result.signal).toBeNull();
      if (step === "snapshot-create:disk-done") {
        // The disk snapshot was taken before the kill: it is kept and listed, not lost.
        expect(result.status).toBe(0);
      } else {
        expect(result.status).toBe(1);
        expect(errorOf(result.stdout).code).toMatch(/^(VM_CRASHED|WORKSPACE_NOT_RUNNING)$/);
      }
      expect(await status()).toBe("crashed");
      expect(qemuProcesses(id())).toEqual([]);
      const after = await listed();
      if (op === "delete") expect(after).toEqual(before.filter((n) => n !== name));
      else if (step === "snapshot-create:disk-done") expect(after).toEqual([...before, name]);
      else expect(after).toEqual(before);
      expect(onDisk()).toEqual(indexed());
      const restore = op === "create" && step === "snapshot-create:disk-done" ? name : "baseline";
      expect((await pyro(["workspace", "reset", id(), "--snapshot", restore])).status).toBe(0);
      expect(await status()).toBe("started");
      expect(qemuProcesses(id())).toHaveLength(1);
      expect(await writable()).toBe("ok\n");
    });
  }

  it("a snapshot of a crashed workspace reports its real size, not 0", async () => {
    const killed = await create("x", { PYRO_FAULT: "snapshot-create:frozen", PYRO_FAULT_KILL: "supervisor" });
    expect(killed.status).toBe(1);
    expect(await status()).toBe("crashed");
    const offline = await create("offline");
    expect(offline.status).toBe(0);
    const info = parseJson<{ snapshot: { entry_count: number; bytes_written: number } }>(offline.stdout).snapshot;
    expect(info.entry_count).toBeGreaterThan(0);
    expect(info.bytes_written).toBeGreaterThan(0);
    expect((await pyro(["workspace", "reset", id(), "--snapshot", "offline"])).status).toBe(0);
    expect((await wsExec(id(), "cat a.txt")).stdout).toBe("a\n");
  });
});
