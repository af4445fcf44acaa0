import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, pyro } from "../support/cli.js";
import { cliJson, readUntil } from "../support/shells.js";
import { seedDirectory, stateDir, wsExec } from "../support/workspace.js";

/**
 * Warm starts (docs/warm-starts.md): workspaces restored from the saved post-boot state of their
 * environment and shape, made their own before any command runs; stop and start that keep the
 * VM's memory; the fallbacks; kills during a save or a restore. Runs with PYRO_WARM=1 whatever
 * the suite's default, so these cases hold on both CI runs.
 */
const WARM = { PYRO_WARM: "1" };

interface Rec {
  workspace_id: string;
  state: string;
  boot_path: "warm" | "cold" | null;
  boot_note: string | null;
  last_error: string | null;
}

const cacheDir = () =>
  process.env.PYRO_CACHE_DIR ??
  (process.env.PYRO_HOME
    ? path.join(process.env.PYRO_HOME, "cache")
    : path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "pyro-mcp"));

async function create(args: string[] = [], env: Record<string, string> = WARM): Promise<Rec> {
  const result = await pyro(["workspace", "create", "debian:12", "--json", ...args], { env });
  expect(result.status, result.stdout + result.stderr).toBe(0);
  return parseJson<Rec>(result.stdout);
}

async function status(id: string): Promise<Rec> {
  return parseJson<Rec>((await pyro(["workspace", "status", id, "--json"])).stdout);
}

async function lifecycle(op: "stop" | "start" | "reset", id: string, env: Record<string, string> = WARM) {
  return pyro(["workspace", op, id, "--json"], { env });
}

/** Guest wall clock (ms) compared with the host's around the call. */
async function clockSkewMs(id: string): Promise<number> {
  const before = Date.now();
  const result = await wsExec(id, "date +%s%3N");
  const after = Date.now();
  const guest = Number(result.stdout.trim());
  if (guest < before) return before - guest;
  if (guest > after) return guest - after;
  return 0;
}

const urandom = async (id: string) => (await wsExec(id, "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'")).stdout;

/** The saved states (templates) of the shared cache. */
function templates(): string[] {
  const dir = path.join(cacheDir(), "warm");
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith(".")).map((n) => path.join(dir, n)) : [];
}

function processesOf(id: string): string[] {
  try {
    return execFileSync("pgrep", ["-af", id], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(id) && !l.includes("pgrep"));
  } catch {
    return [];
  }
}

let a: Rec;
let b: Rec;
const seed = seedDirectory({ "hello.txt": "hello from the seed\n" });

/**
 * This file deletes, truncates and races saved states: it works in a private cache (environments
 * hard-linked from the shared one; saved states of its own, keyed by that path), so test files
 * running beside it keep theirs.
 */
const sharedEnvCache = process.env.PYRO_CACHE_DIR;
const sharedCache = cacheDir();
const privateCache = mkdtempSync(path.join(os.tmpdir(), "pyro-warm-cache-"));

beforeAll(async () => {
  for (const part of ["environments", "boot", "accelerator.json"]) {
    const from = path.join(sharedCache, part);
    if (existsSync(from)) execFileSync("cp", ["-a", "--link", from, privateCache]);
  }
  process.env.PYRO_CACHE_DIR = privateCache;
  // The first create here boots cold and saves this cache's state; the two below restore it.
  const first = await create();
  await pyro(["workspace", "delete", first.workspace_id]);
  a = await create(["--seed-path", seed]);
  b = await create(["--seed-path", seed]);
});
afterAll(async () => {
  for (const r of [a, b]) if (r) await pyro(["workspace", "delete", r.workspace_id]);
  if (sharedEnvCache === undefined) delete process.env.PYRO_CACHE_DIR;
  else process.env.PYRO_CACHE_DIR = sharedEnvCache;
  rmSync(privateCache, { recursive: true, force: true });
});

describe("warm create", () => {
  it("warm: two workspaces restored from one saved state are different machines", async () => {
    expect(a.boot_path).toBe("warm");
    expect(b.boot_path).toBe("warm");
    for (const r of [a, b]) {
      const ws = await wsExec(r.workspace_id, "cat /workspace/hello.txt; ls /run/pyro/baseline | grep -v lost+found; hostname");
      expect(ws.stdout).toBe("hello from the seed\nhello.txt\npyro\n");
    }
    const [ra, rb] = [await urandom(a.workspace_id), await urandom(b.workspace_id)];
    expect(ra).toMatch(/^[0-9a-f]{64}$/);
    expect(ra).not.toBe(rb);
    expect(await clockSkewMs(a.workspace_id)).toBeLessThan(1000);
    expect(await clockSkewMs(b.workspace_id)).toBeLessThan(1000);
  });

  it("warm: the saved state is QEMU's file, private to the user", () => {
    const [dir] = templates();
    expect(dir).toBeDefined();
    const mode = (name: string) => execFileSync("stat", ["-c", "%a", path.join(dir as string, name)], { encoding: "utf8" }).trim();
    expect(mode("state")).toBe("600");
    expect(readFileSync(path.join(dir as string, "state")).subarray(0, 4).toString()).toBe("QEVM");
  });

  it("warm: reset gives a new sandbox on the warm path", async () => {
    const id = a.workspace_id;
    await wsExec(id, "echo scratch > /tmp/scratch; echo changed > /workspace/new.txt; (sleep 1000 &)");
    const reset = await lifecycle("reset", id);
    expect(reset.status, reset.stderr).toBe(0);
    expect(parseJson<Rec>(reset.stdout).boot_path).toBe("warm");
    const after = await wsExec(id, "ls /tmp; ls /workspace | grep -v lost+found; pgrep -x sleep || echo no-sleep; cat /workspace/hello.txt");
    expect(after.stdout).toBe("hello.txt\nno-sleep\nhello from the seed\n");
    expect(await clockSkewMs(id)).toBeLessThan(1000);
  });

  it("warm: PYRO_WARM=0 boots cold and says so", async () => {
    const cold = await create([], { PYRO_WARM: "0" });
    try {
      expect(cold.boot_path).toBe("cold");
      expect(cold.boot_note).toMatch(/PYRO_WARM=0/);
      const doctor = parseJson<{ warm: { boot_path: string } }>(
        (await pyro(["doctor", "--json"], { env: { PYRO_WARM: "0" } })).stdout,
      );
      expect(doctor.warm.boot_path).toBe("cold");
    } finally {
      await pyro(["workspace", "delete", cold.workspace_id]);
    }
  });

  it("warm: a corrupt saved state falls back to a cold boot with a warning, then is replaced", async () => {
    for (const dir of templates()) {
      const fd = openSync(path.join(dir, "state"), "r+");
      writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, 8); // just after QEMU's header
      closeSync(fd);
    }
    const fallback = await create();
    try {
      expect(fallback.boot_path).toBe("cold");
      expect(fallback.boot_note).toMatch(/warm start failed, booted cold/);
      expect((await wsExec(fallback.workspace_id, "echo ok")).stdout).toBe("ok\n");
    } finally {
      await pyro(["workspace", "delete", fallback.workspace_id]);
    }
    const next = await create();
    expect(next.boot_path).toBe("warm");
    await pyro(["workspace", "delete", next.workspace_id]);
  });

  it("warm: pyro run restores too", async () => {
    const result = await pyro(["run", "debian:12", "--json", "--", "cat", "/proc/sys/kernel/random/boot_id"], {
      env: WARM,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(parseJson<{ stdout: string }>(result.stdout).stdout).toMatch(/^[0-9a-f-]{36}\n$/);
  });
});

describe("stop and start", () => {
  it("stop/start: processes, files in /tmp and the clock survive; stopped is listed", async () => {
    const id = b.workspace_id;
    await wsExec(
      id,
      "echo written-before-stop > /workspace/flushed.txt; echo kept > /tmp/kept; sleep 1000 > /dev/null 2>&1 & echo $! > /tmp/sleep.pid",
    );
    const stopped = await lifecycle("stop", id);
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(parseJson<Rec>(stopped.stdout).state).toBe("stopped");
    expect(processesOf(id)).toEqual([]);
    const list = parseJson<{ workspaces: { workspace_id: string; state: string }[] }>(
      (await pyro(["workspace", "list", "--json"])).stdout,
    );
    expect(list.workspaces.find((w) => w.workspace_id === id)?.state).toBe("stopped");
    // Offline disk tools read a stopped workspace: the stop flushed the guest's file systems.
    const disk = await pyro(["workspace", "disk", "read", id, "flushed.txt"]);
    expect(disk.status, disk.stderr).toBe(0);
    expect(disk.stdout).toContain("written-before-stop");
    const refused = await wsExec(id, "true");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/WORKSPACE_STOPPED|is stopped/);
    expect((await lifecycle("stop", id)).status).toBe(0); // stopping again is a no-op
    const started = await lifecycle("start", id);
    expect(started.status, started.stderr).toBe(0);
    expect(parseJson<Rec>(started.stdout).state).toBe("started");
    const after = await wsExec(id, "cat /tmp/kept; kill -0 $(cat /tmp/sleep.pid) && echo alive");
    expect(after.stdout).toBe("kept\nalive\n");
    expect(await clockSkewMs(id)).toBeLessThan(1000);
  });

  it("stop/start: a shell and a service go on where they were", async () => {
    const id = b.workspace_id;
    const shell = await cliJson<{ shell_id: string }>(["workspace", "shell", "open", id]);
    await readUntil(id, shell.shell_id, /# $/);
    await pyro(["workspace", "shell", "write", id, shell.shell_id, "--input", "export KEEP=before-stop"]);
    const service = await pyro([
      "workspace", "service", "start", id, "ticker", "--json", "--",
      "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done",
    ]);
    expect(service.status, service.stderr).toBe(0);
    expect((await lifecycle("stop", id)).status).toBe(0);
    expect(processesOf(id).filter((l) => l.includes("qemu-system"))).toEqual([]);
    const started = await lifecycle("start", id);
    expect(started.status, started.stderr).toBe(0);
    await pyro(["workspace", "shell", "write", id, shell.shell_id, "--input", 'echo "after:$KEEP"']);
    await readUntil(id, shell.shell_id, /after:before-stop/);
    const status = await cliJson<{ state: string }>(["workspace", "service", "status", id, "ticker"]);
    expect(status.state).toBe("running");
    const logs = async () =>
      (await cliJson<{ stdout: string }>(["workspace", "service", "logs", id, "ticker", "--all"])).stdout;
    const ticks = (await logs()).split("\n").length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await logs()).split("\n").length).toBeGreaterThan(ticks);
    expect((await pyro(["workspace", "service", "stop", id, "ticker"])).status).toBe(0);
    expect((await pyro(["workspace", "shell", "close", id, shell.shell_id])).status).toBe(0);
  });

  it("stop/start: reset and delete work on a stopped workspace", async () => {
    const id = b.workspace_id;
    expect((await lifecycle("stop", id)).status).toBe(0);
    const reset = await lifecycle("reset", id);
    expect(reset.status, reset.stderr).toBe(0);
    expect((await wsExec(id, "ls /tmp; pgrep -x sleep || echo none")).stdout).toBe("none\n");
    const other = await create();
    expect((await lifecycle("stop", other.workspace_id)).status).toBe(0);
    expect((await pyro(["workspace", "delete", other.workspace_id])).status).toBe(0);
    expect(existsSync(path.join(stateDir(), "workspaces", other.workspace_id))).toBe(false);
  });
});

describe("kills during a save or a restore", () => {
  // The fault travels in the supervisor's environment: it is set on the reset that starts it.
  it.each<[string, "qemu" | "supervisor"]>([
    ["stop:synced", "qemu"],
    ["stop:saved", "supervisor"],
  ])("kill: stop, %s, kill %s: stop fails, reset recovers", async (step, kill) => {
    const id = a.workspace_id;
    const armed = await lifecycle("reset", id, { ...WARM, PYRO_FAULT: step, PYRO_FAULT_KILL: kill });
    expect(armed.status, armed.stderr).toBe(0);
    const stop = await lifecycle("stop", id);
    expect(stop.status).not.toBe(0);
    expect((await status(id)).state).toBe("crashed");
    expect(processesOf(id)).toEqual([]);
    expect((await lifecycle("reset", id)).status).toBe(0);
    expect((await wsExec(id, "cat /workspace/hello.txt")).stdout).toBe("hello from the seed\n");
  });

  it("kill: the CLI killed during a stop and a start: the supervisor finishes each", async () => {
    const id = a.workspace_id;
    await wsExec(id, "echo still-here > /tmp/mark");
    const stop = await lifecycle("stop", id, { ...WARM, PYRO_FAULT: "suspend:requested" });
    expect(stop.signal).toBe("SIGKILL");
    const deadline = Date.now() + 60_000;
    while ((await status(id)).state !== "stopped" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await status(id)).state).toBe("stopped");
    const start = await lifecycle("start", id);
    expect(start.status, start.stderr).toBe(0);
    expect((await wsExec(id, "cat /tmp/mark")).stdout).toBe("still-here\n");
  });

  it("kill: start, restore:before-setup, kill supervisor: start fails, reset recovers", async () => {
    const id = a.workspace_id;
    expect((await lifecycle("stop", id)).status).toBe(0);
    const start = await lifecycle("start", id, { ...WARM, PYRO_FAULT: "restore:before-setup", PYRO_FAULT_KILL: "supervisor" });
    expect(start.status).not.toBe(0);
    expect(processesOf(id)).toEqual([]);
    expect((await lifecycle("reset", id)).status).toBe(0);
    expect((await wsExec(id, "echo ok")).stdout).toBe("ok\n");
  });

  it("kill: create, restore:before-setup, kill qemu: the create boots cold", async () => {
    const made = await create([], { ...WARM, PYRO_FAULT: "restore:before-setup", PYRO_FAULT_KILL: "qemu" });
    try {
      expect(made.boot_path).toBe("cold");
      expect((await wsExec(made.workspace_id, "echo ok")).stdout).toBe("ok\n");
    } finally {
      await pyro(["workspace", "delete", made.workspace_id]);
    }
  });

  it("kill: create, template:saving, kill supervisor: the next create saves a new state", async () => {
    for (const dir of templates()) execFileSync("rm", ["-rf", dir]);
    const killed = await pyro(["workspace", "create", "debian:12", "--json"], {
      env: { ...WARM, PYRO_FAULT: "template:saving", PYRO_FAULT_KILL: "supervisor" },
    });
    expect(killed.status).not.toBe(0);
    const made = await create();
    expect(made.boot_path).toBe("warm");
    await pyro(["workspace", "delete", made.workspace_id]);
    const killedId = readdirSync(path.join(stateDir(), "workspaces")).filter((n) => /^[0-9a-f]{12}$/.test(n));
    for (const id of killedId) if (id !== a.workspace_id && id !== b.workspace_id) await pyro(["workspace", "delete", id]);
  });
});
