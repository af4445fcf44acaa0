import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, pyro, type CliResult } from "../support/cli.js";
import { REPO_ROOT } from "../support/paths.js";
import { createWorkspace, stateDir, wsExec, type Record_ } from "../support/workspace.js";

/**
 * SIGKILL of the CLI, the supervisor and QEMU at each fault point of create, reset and delete,
 * each followed by what a user does next, and the races between lifecycle operations. After each:
 * status tells the truth, reset or delete recovers, no process is left behind and no snapshot is
 * lost.
 */
const workspacesDir = () => path.join(stateDir(), "workspaces");
const folder = (id: string) => path.join(workspacesDir(), id);
const ids = () => new Set(readdirSync(workspacesDir()).filter((n) => /^[0-9a-f]{12}$/.test(n)));

/** The workspace's host processes: supervisors (by their arguments) and QEMUs (by its folder). */
function processesOf(id: string): { supervisors: string[]; qemus: string[] } {
  let out = "";
  try {
    out = execFileSync("pgrep", ["-af", id], { encoding: "utf8" });
  } catch {
    /* none */
  }
  const lines = out.split("\n").filter((l) => l.includes(id) && !l.includes("pgrep"));
  return {
    supervisors: lines.filter((l) => l.includes("supervisor/main.js")),
    qemus: lines.filter((l) => l.includes("qemu-system") && l.includes(folder(id))),
  };
}

function expectRunningOnce(id: string): void {
  const p = processesOf(id);
  expect(p.supervisors, "supervisors").toHaveLength(1);
  expect(p.qemus, "QEMUs").toHaveLength(1);
}

function expectNothingLeft(id: string): void {
  expect(processesOf(id)).toEqual({ supervisors: [], qemus: [] });
  expect(existsSync(folder(id)), "workspace folder").toBe(false);
}

const state = async (id: string) => {
  const result = await pyro(["workspace", "status", id, "--json"]);
  return result.status === 0 ? parseJson<Record_>(result.stdout).state : "not found";
};

const fault = (step: string, kill: Kill): Record<string, string> =>
  kill === "cli" ? { PYRO_FAULT: step } : { PYRO_FAULT: step, PYRO_FAULT_KILL: kill };

function expectKilledOr0(result: CliResult, kill: Kill): void {
  if (kill === "cli") expect(result.signal, `status ${result.status}: ${result.stderr}`).toBe("SIGKILL");
  else expect(result.status, result.stderr).toBe(0);
}

async function deleteAndCheck(id: string): Promise<void> {
  const result = await pyro(["workspace", "delete", id]);
  expect(result.status, result.stderr).toBe(0);
  expectNothingLeft(id);
}

type Kill = "cli" | "supervisor" | "qemu";

let shared: Record_;
const sharedId = () => shared.workspace_id;
const snapshotNames = async (id: string) =>
  parseJson<{ snapshots: { snapshot_name: string }[] }>(
    (await pyro(["workspace", "snapshot", "list", id, "--json"])).stdout,
  ).snapshots.map((s) => s.snapshot_name);

beforeAll(async () => {
  shared = await createWorkspace();
  await wsExec(sharedId(), "echo kept > kept.txt");
  expect((await pyro(["workspace", "snapshot", "create", sharedId(), "keep"])).status).toBe(0);
});
afterAll(async () => {
  if (shared) await pyro(["workspace", "delete", sharedId()]);
});

describe("kill matrix: create", () => {
  it.each<[string, Kill, string, "list" | "delete"]>([
    ["create:baseline-done", "cli", "not found", "list"],
    ["create:supervisor-started", "cli", "started", "delete"],
    ["create:supervisor-started", "supervisor", "crashed", "delete"],
    ["create:supervisor-started", "qemu", "crashed", "delete"],
  ])("kill: create, %s, kill %s: status is %s, %s recovers", async (step, kill, expected, recover) => {
    const before = ids();
    const result = await pyro(["workspace", "create", "debian:12", "--json"], { env: fault(step, kill) });
    expectKilledOr0(result, kill);
    const created = [...ids()].filter((n) => !before.has(n));
    expect(created).toHaveLength(1);
    const id = created[0] as string;
    expect(await state(id)).toBe(expected);
    if (recover === "list") {
      const list = parseJson<{ workspaces: { workspace_id: string }[]; unreadable: unknown[] }>(
        (await pyro(["workspace", "list", "--json"])).stdout,
      );
      expect(list.unreadable).toEqual([]);
      expect(list.workspaces.map((w) => w.workspace_id)).not.toContain(id);
      expectNothingLeft(id);
      return;
    }
    await deleteAndCheck(id);
  });

  it("kill: the remains of a killed create are deletable by id", async () => {
    const before = ids();
    const killed = await pyro(["workspace", "create", "debian:12"], { env: fault("create:baseline-done", "cli") });
    expect(killed.signal).toBe("SIGKILL");
    const id = [...ids()].find((n) => !before.has(n)) as string;
    await deleteAndCheck(id);
  });
});

describe("kill matrix: reset and delete", () => {
  it.each<[string, Kill, string]>([
    ["reset:booted", "cli", "started"],
    ["reset:booted", "supervisor", "crashed"],
    ["reset:booted", "qemu", "crashed"],
  ])("kill: reset, %s, kill %s: status is %s, reset recovers, no snapshot lost", async (step, kill, expected) => {
    const result = await pyro(["workspace", "reset", sharedId()], { env: fault(step, kill) });
    expectKilledOr0(result, kill);
    expect(await state(sharedId())).toBe(expected);
    if (expected !== "started") {
      expect(processesOf(sharedId())).toEqual({ supervisors: [], qemus: [] });
      expect((await pyro(["workspace", "reset", sharedId(), "--snapshot", "keep"])).status).toBe(0);
    }
    expectRunningOnce(sharedId());
    expect((await wsExec(sharedId(), "echo ok")).stdout).toBe("ok\n");
    expect(await snapshotNames(sharedId())).toEqual(["baseline", "keep"]);
  });

  it.each<[string, Kill, string]>([
    ["delete:locked", "cli", "started"],
    ["delete:locked", "supervisor", ""],
    ["delete:locked", "qemu", ""],
    ["delete:stopped", "cli", "crashed"],
  ])("kill: delete, %s, kill %s: delete (again) removes everything", async (step, kill, left) => {
    const { workspace_id: id } = await createWorkspace();
    const result = await pyro(["workspace", "delete", id], { env: fault(step, kill) });
    expectKilledOr0(result, kill);
    if (kill === "cli") {
      // Killed holding the lock: the next delete takes the dead holder's lock over.
      expect(await state(id)).toBe(left);
      await deleteAndCheck(id);
    }
    expectNothingLeft(id);
  });
});

describe("races", () => {
  it("race: two concurrent resets run one after the other: one supervisor, one QEMU, both counted", async () => {
    const before = parseJson<Record_>((await pyro(["workspace", "status", sharedId(), "--json"])).stdout);
    const results = await Promise.all([pyro(["workspace", "reset", sharedId()]), pyro(["workspace", "reset", sharedId()])]);
    expect(results.map((r) => r.status)).toEqual([0, 0]);
    const after = parseJson<Record_>((await pyro(["workspace", "status", sharedId(), "--json"])).stdout);
    expect(after).toMatchObject({ state: "started", reset_count: before.reset_count + 2 });
    expectRunningOnce(sharedId());
    // A third reset works (no disk lock held by a stray QEMU).
    expect((await pyro(["workspace", "reset", sharedId()])).status).toBe(0);
    expectRunningOnce(sharedId());
  });

  it("race: a second supervisor for a running workspace refuses to start and changes nothing", async () => {
    const second = spawn(process.execPath, [path.join(REPO_ROOT, "dist/src/supervisor/main.js"), stateDir(), sharedId()], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    second.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => second.once("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain("another supervisor already runs");
    expect(await state(sharedId())).toBe("started");
    expectRunningOnce(sharedId());
  });

  it("race: an exec running when a reset starts fails with WORKSPACE_RESET", async () => {
    const exec = pyro(["workspace", "exec", sharedId(), "--json", "--", "sleep", "60"]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await pyro(["workspace", "reset", sharedId()])).status).toBe(0);
    const result = await exec;
    expect(result.status).toBe(1);
    const error = parseJson<{ error: { code: string; hint: string } }>(result.stdout).error;
    expect(error.code).toBe("WORKSPACE_RESET");
    expect(error.hint).toMatch(/reset by another client; re-run the command/);
  });

  it("race: reset preempts a lock holder stuck on the guest and wins at once", async () => {
    // A real pyro lock holder waiting on a real guest call that never ends (like a snapshot
    // whose guest hung): reset must stop the VM, make it fail, and go on.
    const script = `
      const { resolvePaths } = await import(${JSON.stringify(path.join(REPO_ROOT, "dist/src/core/paths.js"))});
      const { withWorkspaceLock } = await import(${JSON.stringify(path.join(REPO_ROOT, "dist/src/core/workspace/record.js"))});
      const { connectWorkspace } = await import(${JSON.stringify(path.join(REPO_ROOT, "dist/src/core/workspace/lifecycle.js"))});
      await withWorkspaceLock(resolvePaths(), ${JSON.stringify(sharedId())}, async () => {
        const agent = await connectWorkspace(resolvePaths(), ${JSON.stringify(sharedId())});
        process.stdout.write("holding\\n");
        await agent.exec({ argv: ["sleep", "600"], cwd: "/", timeoutMs: 600000 }, {}).result;
      }, { operation: "snapshot" }).catch((e) => { process.stdout.write("holder failed: " + e.code + "\\n"); process.exit(3); });
    `;
    const holder = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    holder.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const holderExit = new Promise((resolve) => holder.once("exit", resolve));
    for (let i = 0; i < 200 && !out.includes("holding"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain("holding");
    const started = Date.now();
    const reset = await pyro(["workspace", "reset", sharedId()]);
    expect(reset.status, reset.stderr).toBe(0);
    expect(await holderExit).toBe(3);
    expect(out).toMatch(/holder failed: (VM_CRASHED|WORKSPACE_RESET)/);
    expect(Date.now() - started).toBeLessThan(60_000);
    expectRunningOnce(sharedId());
    expect(await snapshotNames(sharedId())).toEqual(["baseline", "keep"]);
  });

  it("race: create vs list: list never shows a workspace being created as unreadable", async () => {
    const create = pyro(["workspace", "create", "debian:12", "--json"]);
    let done = false;
    void create.then(() => (done = true));
    const problems: unknown[] = [];
    while (!done) {
      const list = await pyro(["workspace", "list", "--json"]);
      expect(list.status).toBe(0);
      problems.push(...parseJson<{ unreadable: unknown[] }>(list.stdout).unreadable);
    }
    const result = await create;
    expect(result.status, result.stderr).toBe(0);
    expect(problems).toEqual([]);
    const id = parseJson<Record_>(result.stdout).workspace_id;
    expectRunningOnce(id);

    // delete vs exec on the same workspace: the exec says the workspace was deleted.
    const exec = pyro(["workspace", "exec", id, "--json", "--", "sleep", "60"]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await deleteAndCheck(id);
    const execResult = await exec;
    expect(execResult.status).toBe(1);
    expect(parseJson<{ error: { code: string; message: string } }>(execResult.stdout).error).toMatchObject({
      code: "WORKSPACE_NOT_FOUND",
      message: expect.stringContaining("deleted while the command ran") as unknown as string,
    });
  });

  it("race: reset vs delete: the workspace ends deleted, with nothing left running", async () => {
    const { workspace_id: id } = await createWorkspace();
    const [reset, del] = await Promise.all([pyro(["workspace", "reset", id]), pyro(["workspace", "delete", id])]);
    expect(del.status, del.stderr).toBe(0);
    // The reset either finished before the delete or was refused cleanly; never INTERNAL.
    if (reset.status !== 0) expect(reset.stderr).not.toMatch(/INTERNAL|bug in pyro/);
    expectNothingLeft(id);
  });

  it("race: delete ends a workspace's processes even when the pid file lies", async () => {
    const { workspace_id: id } = await createWorkspace();
    writeFileSync(path.join(folder(id), "supervisor.pid"), "999999");
    await deleteAndCheck(id);
  });
});
