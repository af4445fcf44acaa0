import path from "node:path";
import { describe, expect, it } from "vitest";
import { command } from "../support/cli.js";
import { REPO_ROOT } from "../support/paths.js";

describe("examples", () => {
  it("examples/workspace.ts runs and reports what the SDK did", async () => {
    const result = await command(path.join(REPO_ROOT, "node_modules", ".bin", "tsx"), ["examples/workspace.ts"], {
      cwd: REPO_ROOT,
    });
    expect(result.status, result.stderr).toBe(0);
    const output = result.stdout;
    expect(output).toContain("check: tests passed (exit 0)");
    expect(output).toMatch(/diff: modified calc\.py/);
    expect(output).toContain("exported calc.py: 4 lines");
    expect(output).toContain("service web: running; services=1 running=1");
    expect(output).toContain("shell says: hello from /tmp");
    expect(output).toMatch(/after breaking it: exit [1-9]/);
    expect(output).toContain("reset #1 to with-sub: tests passed, 2 defs");
    expect(output).toContain("services after reset: 0; shells: 0");
    expect(output).toContain("after reset to baseline, changed since baseline: false");
    expect(output).toContain("snapshots kept: baseline, with-sub");
    expect(output).toMatch(/deleted [0-9a-f]{12}/);
  });
});
