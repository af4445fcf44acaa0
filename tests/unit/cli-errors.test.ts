import { describe, expect, it } from "vitest";
import { parseJson, pyro } from "../support/cli.js";

/** Bad input through the real CLI: clear message, a hint naming the fix, non-zero exit. */
describe("cli bad input", () => {
  it("cli: rejects an unknown environment and lists the known ones", async () => {
    const result = await pyro(["run", "ubuntu:24.04", "--", "true"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('unknown environment "ubuntu:24.04"');
    expect(result.stderr).toMatch(/hint: .*debian:12, debian:12-base, debian:12-build/);
  });

  it("cli: rejects --vcpu-count 0 and --mem-mib 10 with the accepted range", async () => {
    const vcpu = await pyro(["run", "debian:12", "--vcpu-count", "0", "--", "true"]);
    expect(vcpu.status).toBe(1);
    expect(vcpu.stderr).toMatch(/--vcpu-count .* from 1 to 16, got 0/);
    const mem = await pyro(["run", "debian:12", "--mem-mib", "10", "--json", "--", "true"]);
    expect(mem.status).toBe(1);
    expect(parseJson<{ error: { code: string; message: string } }>(mem.stdout).error).toMatchObject(
      {
        code: "INVALID_ARGUMENT",
        message: expect.stringContaining("--mem-mib"),
      },
    );
  });

  it("cli: rejects a flag value that is not a number", async () => {
    const result = await pyro(["run", "debian:12", "--timeout-seconds", "soon", "--", "true"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('expected a whole number, got "soon"');
  });

  it("cli: rejects an empty command", async () => {
    const result = await pyro(["run", "debian:12"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("the command is empty");
    expect(result.stderr).toMatch(/hint: .*pyro run debian:12 -- git --version/);
  });

  it("cli: names the package to install when QEMU is missing", async () => {
    const result = await pyro(["run", "debian:12", "--", "true"], {
      env: { PYRO_QEMU: "/nonexistent/qemu-system-x86_64" },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("qemu-system-x86_64 is not installed");
    expect(result.stderr).toContain("apt-get install qemu-system-x86");
  });

  it("cli: env inspect of an unknown environment fails clearly", async () => {
    const result = await pyro(["env", "inspect", "arch:latest", "--json"]);
    expect(result.status).toBe(1);
    expect(parseJson<{ error: { code: string } }>(result.stdout).error.code).toBe(
      "UNKNOWN_ENVIRONMENT",
    );
  });

  it("cli: --help shows the suggested first path", async () => {
    const result = await pyro(["--help"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("pyro env pull debian:12");
    expect(result.stdout).toContain("pyro run debian:12 -- git --version");
  });
});
