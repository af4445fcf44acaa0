import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolvePaths } from "../../src/core/paths.js";
import { parseJson, pyro } from "../support/cli.js";

interface EnvJson {
  name: string;
  installed: boolean;
  problem: string | null;
  pulled?: boolean;
}

describe("environments", () => {
  it("env list: shows the catalog with install state", async () => {
    const result = await pyro(["env", "list"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Catalog version: 2\.8\.0$/m);
    expect(result.stdout).toMatch(/^debian:12 \[installed\] /m);
    expect(result.stdout).toMatch(/^debian:12-base \[(installed|not installed)\] /m);
    expect(result.stdout).toMatch(/^debian:12-build \[(installed|not installed)\] /m);
  });

  it("env pull: repairs a broken install, is safe when two pulls race, and is idempotent", async () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), "pyro-cache-"));
    // Reuse the downloaded packages of the shared cache so the test builds without re-downloading.
    symlinkSync(path.join(resolvePaths().cacheDir, "debs"), path.join(cache, "debs"));
    const broken = path.join(cache, "environments", "debian_12");
    mkdirSync(broken, { recursive: true });
    writeFileSync(path.join(broken, "manifest.json"), JSON.stringify({ schema_version: 1, name: "debian:12", version: "1.0.0" }));
    const env = { PYRO_CACHE_DIR: cache };

    const inspect = parseJson<EnvJson>((await pyro(["env", "inspect", "debian:12", "--json"], { env })).stdout);
    expect(inspect).toMatchObject({ installed: false, problem: expect.stringMatching(/missing boot artifact/) });

    const [a, b] = await Promise.all([
      pyro(["env", "pull", "debian:12", "--json"], { env }),
      pyro(["env", "pull", "debian:12", "--json"], { env }),
    ]);
    expect([a.status, b.status]).toEqual([0, 0]);
    const pulled = [parseJson<EnvJson>(a.stdout), parseJson<EnvJson>(b.stdout)].map((p) => p.pulled).sort();
    expect(pulled).toEqual([false, true]);
    // Not a terminal here: phase lines only, no progress bar.
    expect(a.stderr + b.stderr).toMatch(/\[pull\] phase=bootstrap environment=debian:12\n/);
    expect(a.stderr + b.stderr).not.toContain("\u001b[");

    const again = await pyro(["env", "pull", "debian:12", "--json"], { env });
    expect(parseJson<EnvJson>(again.stdout)).toMatchObject({ installed: true, pulled: false, problem: null });
    const run = await pyro(["run", "debian:12", "--", "git", "--version"], { env });
    expect(run.stdout).toMatch(/^git version 2\.39\./);

    // prune: leftovers of an interrupted build and broken installs go; healthy installs stay.
    mkdirSync(path.join(cache, "environments", ".build-debian_12-abc123", "rootfs"), { recursive: true });
    mkdirSync(path.join(cache, "environments", "debian_12-base"), { recursive: true });
    const pruned = parseJson<{ count: number; removed: { name: string }[] }>((await pyro(["env", "prune", "--json"], { env })).stdout);
    expect(pruned.removed.map((r) => r.name).sort()).toEqual([".build-debian_12-abc123", "debian:12-base"]);
    expect(readdirSync(path.join(cache, "environments")).filter((n) => !n.startsWith("."))).toEqual(["debian_12"]);
    expect(existsSync(path.join(cache, "environments", "debian_12", "rootfs.ext4"))).toBe(true);
  }, 600_000);
});

describe("catalog", () => {
  it("catalog: debian:12-base and debian:12-build pull and boot with their default packages", async () => {
    const base = await pyro(["run", "debian:12-base", "--", "sh", "-c", "cat /etc/debian_version; command -v git || echo no-git"]);
    expect(base.status).toBe(0);
    expect(base.stdout).toMatch(/^12\.\d+\nno-git\n$/);
    const build = await pyro([
      "run",
      "debian:12-build",
      "--timeout-seconds",
      "120",
      "--",
      "sh",
      "-c",
      "printf 'int main(void){return 42;}' > /tmp/a.c && cc -o /tmp/a /tmp/a.c && /tmp/a; echo $?; git --version",
    ]);
    expect(build.status).toBe(0);
    expect(build.stdout).toMatch(/^42\ngit version 2\.39\./);
  }, 900_000);
});

describe("doctor and network", () => {
  it("doctor: reports the accelerator and why, the agent, environments and capabilities", async () => {
    const result = await pyro(["doctor", "--json"]);
    expect(result.status).toBe(0);
    const report = parseJson<{
      runtime: string;
      accelerator: { accelerator: string; reason: string };
      capabilities: Record<string, boolean>;
      environments: { name: string; installed: boolean }[];
      agent: { present: boolean };
    }>(result.stdout);
    expect(report.runtime).toBe("PASS");
    expect(["kvm", "tcg"]).toContain(report.accelerator.accelerator);
    expect(report.accelerator.reason.length).toBeGreaterThan(5);
    expect(report.capabilities).toEqual({ vm_boot: true, guest_exec: true, guest_network: true });
    expect(report.agent.present).toBe(true);
    const human = await pyro(["doctor"]);
    expect(human.stdout).toMatch(/^Accelerator: (kvm|tcg) \(.+\)$/m);
    expect(human.stdout).toMatch(/^Capabilities: vm_boot=yes guest_exec=yes guest_network=yes$/m);
  });

  it("doctor: names the command that installs each missing piece", async () => {
    const result = await pyro(["doctor"], { env: { PYRO_QEMU: "/nonexistent/qemu", PYRO_AGENT_PATH: "/nonexistent/agent" } });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("Runtime: FAIL");
    expect(result.stdout).toContain("run `apt-get install qemu-system-x86`");
    expect(result.stdout).toContain("run `make build`");
  });

  it("network: off by default; --network gives user-mode egress", async () => {
    const off = await pyro(["run", "debian:12", "--", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"]);
    expect(off.stdout).toBe("lo\n");
    const probe = "exec 3<>/dev/tcp/deb.debian.org/80 && printf 'HEAD / HTTP/1.0\\r\\nHost: deb.debian.org\\r\\n\\r\\n' >&3 && head -n 1 <&3";
    const on = await pyro(["run", "debian:12", "--network", "--timeout-seconds", "60", "--", "bash", "-c", probe]);
    expect(on.status).toBe(0);
    expect(on.stdout).toMatch(/^HTTP\/1\.[01] \d{3}/);
  });
});
