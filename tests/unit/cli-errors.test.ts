import { spawn } from "node:child_process";
import { closeSync, openSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseJson, pyro } from "../support/cli.js";
import { CLI } from "../support/paths.js";

type ErrorJson = { error: { code: string; message: string; hint?: string } };

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

  it("cli: under --json every parse failure is one JSON error object on stdout", async () => {
    const cases: { args: string[]; message: RegExp; hint: RegExp }[] = [
      { args: ["frob", "--json"], message: /unknown command 'frob'/, hint: /pyro --help/ },
      {
        args: ["workspace", "exce", "ID", "--json"],
        message: /unknown command 'exce'/,
        hint: /Did you mean exec\?.*pyro workspace --help/,
      },
      {
        args: ["run", "debian:12", "--frob", "--json", "--", "true"],
        message: /unknown option '--frob'/,
        hint: /pyro run --help/,
      },
      {
        args: ["workspace", "exec", "--json"],
        message: /missing required argument 'workspace-id'/,
        hint: /pyro workspace exec --help/,
      },
      {
        args: ["run", "debian:12", "--timeout-seconds", "soon", "--json", "--", "true"],
        message: /expected a whole number, got "soon"/,
        hint: /pyro run --help/,
      },
      {
        args: ["workspace", "status", "a", "b", "--json"],
        message: /too many arguments/,
        hint: /pyro workspace status --help/,
      },
      {
        args: ["workspace", "export", "ID", "p", "--json"],
        message: /--output/,
        hint: /pyro workspace export --help/,
      },
      {
        args: ["workspace", "shell", "signal", "ID", "shell-1", "--signal", "FOO", "--json"],
        message: /--signal must be one of HUP, INT, TERM, KILL/,
        hint: /pyro workspace shell signal --help/,
      },
      {
        args: ["workspace", "create", "debian:12", "--mem-mib", "--json"],
        message: /--mem-mib/,
        hint: /pyro workspace create --help/,
      },
    ];
    const results = await Promise.all(cases.map((c) => pyro(c.args)));
    for (const [i, c] of cases.entries()) {
      const result = results[i]!;
      const label = c.args.join(" ");
      expect(result.status, label).toBe(1);
      expect(result.stderr, label).toBe("");
      const { error } = parseJson<ErrorJson>(result.stdout);
      expect(error.code, label).toBe("INVALID_ARGUMENT");
      expect(error.message, label).toMatch(c.message);
      expect(error.hint, label).toMatch(c.hint);
    }
  });

  it("cli: without --json a parse failure stays human text on stderr", async () => {
    const result = await pyro(["workspace", "exce", "ID"]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("error: unknown command 'exce'");
    expect(result.stderr).toContain("(Did you mean exec?)");
  });

  it("cli: --json after `--` belongs to the guest command, not to pyro", async () => {
    const result = await pyro(["run", "debian:12", "--frob", "--", "echo", "--json"]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("unknown option '--frob'");
  });

  it("cli: a host file-system error is HOST_IO_ERROR naming the path, not INTERNAL", async () => {
    // The state directory sits below a regular file, so creating anything in it fails ENOTDIR.
    const file = path.join(os.tmpdir(), `pyro-not-a-dir-${process.pid}`);
    writeFileSync(file, "");
    const result = await pyro(["workspace", "create", "debian:12", "--json"], {
      env: { PYRO_STATE_DIR: path.join(file, "state") },
    });
    rmSync(file);
    expect(result.status).toBe(1);
    const { error } = parseJson<ErrorJson>(result.stdout);
    expect(error.code).toBe("HOST_IO_ERROR");
    expect(error.message).toContain(file);
    expect(error.message).toContain("ENOTDIR");
    expect(error.hint).toMatch(/not a directory|is a file/);
  });

  /** Run the CLI with stdout wired as given; resolves with its exit status and stderr. */
  const runWithStdout = (
    args: string[],
    stdout: "pipe" | number,
    closeReader: boolean,
  ): Promise<{ status: number | null; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        stdio: ["ignore", stdout, "pipe"],
      });
      // The reader goes away before pyro writes a byte, as `| head -c 0` would.
      if (closeReader) child.stdout?.destroy();
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      child.once("error", reject);
      child.once("close", (status) => resolve({ status, stderr }));
    });

  it("cli: a closed stdout ends pyro quietly with status 141, no stack trace", async () => {
    const result = await runWithStdout(["env", "list"], "pipe", true);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(141);
  });

  it("cli: a failing stdout (a full disk) is reported on stderr, not as a stack trace", async () => {
    const full = openSync("/dev/full", "w");
    const result = await runWithStdout(["env", "list"], full, false);
    closeSync(full);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("error: cannot write to standard output");
    expect(result.stderr).toContain("ENOSPC");
    expect(result.stderr).not.toMatch(/\s{4}at /);
  });
});
