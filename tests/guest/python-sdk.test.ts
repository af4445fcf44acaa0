import { describe, expect, it } from "vitest";
import { command } from "../support/cli.js";
import { REPO_ROOT } from "../support/paths.js";
import { PYTHON, PYTHON_ENV as env } from "../support/python.js";


describe("python sdk", () => {
  it("python sdk: the unittest suites pass with Debian's python3 (local and real guests)", async () => {
    const result = await command(
      PYTHON,
      ["-W", "error::ResourceWarning", "-m", "unittest", "discover", "-v", "-s", "python/tests", "-t", "python/tests"],
      { cwd: REPO_ROOT, env },
    );
    expect(result.status, result.stderr).toBe(0);
    // Every case ran (a module that fails to import would still be "a test").
    expect(result.stderr).toMatch(/^Ran 23 tests in /m);
    expect(result.stderr).toMatch(/^OK$/m);
    expect(result.stderr).not.toContain("skipped");
  }, 300_000);

  it("python sdk: examples/python_workspace.py runs and reports what the SDK did", async () => {
    const result = await command(PYTHON, ["examples/python_workspace.py"], { cwd: REPO_ROOT, env });
    expect(result.status, result.stderr).toBe(0);
    const output = result.stdout;
    expect(output).toMatch(/^workspace [0-9a-f]{12} \(3 seeded entries\)$/m);
    expect(output).toContain("check: tests passed (exit 0)");
    expect(output).toContain("diff: modified calc.py");
    expect(output).toContain("exported calc.py: 4 lines");
    expect(output).toContain("service web: running; services=1 running=1");
    expect(output).toContain("service_state=running ready=True");
    expect(output).toMatch(/after breaking it: exit [1-9]/);
    expect(output).toContain("reset #1 to with-sub: tests passed, 2 defs");
    expect(output).toContain("services after reset: 0");
    expect(output).toContain("after reset to baseline, changed since baseline: False");
    expect(output).toContain("snapshots kept: baseline, with-sub");
    expect(output).toMatch(/deleted [0-9a-f]{12}/);
  }, 300_000);
});
