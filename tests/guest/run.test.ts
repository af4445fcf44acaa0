import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseJson, pyro, qemuProcesses } from "../support/cli.js";
import { CLI } from "../support/paths.js";
import { stateDir } from "../support/workspace.js";

/** `pyro run` as a user runs it: real CLI process, real microVM (TCG here), real Debian. */
const runDirs = () => readdirSync(path.join(stateDir(), "runs"), { withFileTypes: true }).map((d) => d.name);

afterEach(() => {
  // No VM and no run directory may outlive a run, whatever happened in it.
  expect(qemuProcesses(stateDir())).toEqual([]);
  expect(runDirs()).toEqual([]);
});

interface RunJson {
  stdout: string;
  stderr: string;
  exit_code: number;
  timed_out: boolean;
  duration_ms: number;
  environment: string;
  execution_mode: string;
  accelerator: string;
}

describe("pyro run", () => {
  it("run: git --version prints Debian 12's git from inside the VM", async () => {
    const result = await pyro(["run", "debian:12", "--", "git", "--version"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^git version 2\.39\.\d+/);
    expect(result.stderr).toMatch(/\[run\] .*exit_code=0 .*duration_ms=\d+/);
    expect(result.stderr).toMatch(/accelerator=(tcg|kvm)/);
  });

  it("run: exit status is the guest command's, with the words after -- quoted as given", async () => {
    const result = await pyro(["run", "debian:12", "--", "sh", "-c", "echo to-err >&2; exit 7"]);
    expect(result.status).toBe(7);
    expect(result.stderr).toContain("to-err");
    expect(result.stderr).toMatch(/exit_code=7/);
  });

  it("run: --json prints one sorted object with output, exit code and mode", async () => {
    const result = await pyro([
      "run",
      "debian:12",
      "--json",
      "--",
      "sh",
      "-c",
      'pwd; echo "$HOME"; cat; uname -s',
    ]);
    expect(result.status).toBe(0);
    const payload = parseJson<RunJson>(result.stdout);
    // cat sees no stdin: a run without input must not hang.
    expect(payload.stdout).toBe("/root\n/root\nLinux\n");
    expect(payload).toMatchObject({
      exit_code: 0,
      timed_out: false,
      environment: "debian:12",
      execution_mode: "guest_agent",
    });
    const keys = Object.keys(JSON.parse(result.stdout) as object);
    expect(keys).toEqual([...keys].sort());
  });

  it("run: several MB of output arrive intact", async () => {
    const script = "head -c 4000000 /dev/urandom | base64 -w 76 > /tmp/blob; cat /tmp/blob; sha256sum /tmp/blob >&2";
    // Streamed to the terminal whole (a --json result keeps only a bounded head and tail).
    const result = await pyro(["run", "debian:12", "--", "sh", "-c", script]);
    expect(result.status).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(5_000_000);
    const digest = createHash("sha256").update(result.stdout).digest("hex");
    expect(result.stderr).toContain(digest);
  });

  it("run: a command that outlives --timeout-seconds is killed and exits 124", async () => {
    const result = await pyro(["run", "debian:12", "--timeout-seconds", "2", "--json", "--", "sleep", "60"]);
    expect(result.status).toBe(124);
    const payload = parseJson<RunJson>(result.stdout);
    expect(payload).toMatchObject({ exit_code: 124, timed_out: true });
    expect(payload.duration_ms).toBeLessThan(30_000);
  });

  it("run: Ctrl-C tears the VM down and exits 130", async () => {
    const child = spawn(process.execPath, [CLI, "run", "debian:12", "--", "sleep", "60"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    await new Promise<void>((resolve) => {
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("phase=booted")) resolve();
      });
    });
    expect(qemuProcesses(stateDir()).length).toBe(1);
    child.kill("SIGINT");
    const status = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(status).toBe(130);
    expect(stderr).toContain("cancelled");
  });

  it("run: a guest that does not come up in time fails with the guest log and leaves nothing", async () => {
    // A cold boot: a restore from a saved state (the warm path) comes up within the second.
    const human = await pyro(["run", "debian:12", "--", "true"], {
      env: { PYRO_BOOT_TIMEOUT_SECONDS: "1", PYRO_WARM: "0" },
    });
    expect(human.status).toBe(1);
    expect(human.stderr).toMatch(/did not boot within 1000 ms/);
    expect(human.stderr).toMatch(/hint: .*PYRO_BOOT_TIMEOUT_SECONDS/);
    const json = await pyro(["run", "debian:12", "--json", "--", "true"], {
      env: { PYRO_BOOT_TIMEOUT_SECONDS: "1", PYRO_WARM: "0" },
    });
    expect(json.status).toBe(1);
    const error = parseJson<{ error: { code: string; details: Record<string, unknown> } }>(json.stdout).error;
    expect(error.code).toBe("VM_BOOT_TIMEOUT");
    expect(typeof error.details.serial_log_tail).toBe("string");
  });
});
