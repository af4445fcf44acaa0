import { describe, expect, it } from "vitest";
import { qemuProcesses } from "../support/cli.js";
import { seedDirectory, stateDir } from "../support/workspace.js";
import { mcpClient } from "../support/mcp.js";

/**
 * The whole reset-over-repair loop as an agent drives it, through the official MCP client over
 * stdio: seed a project, run its tests, read and patch the code, diff without the build noise,
 * snapshot the fix, break it, reset to the snapshot, verify, delete. The number of tool calls is
 * part of the contract: each step is one call, with no shell quoting or retries.
 */
const CALC = `add() { echo $(( $1 - $2 )); }\n`; // the bug: - instead of +
const TEST = `. ./calc.sh
mkdir -p build && date > build/last-run.txt
[ "$(add 2 3)" = 5 ] && echo PASS || { echo "FAIL: add 2 3 = $(add 2 3)"; exit 1; }
`;
const FIX = `--- a/calc.sh
+++ b/calc.sh
@@ -1 +1 @@
-add() { echo $(( $1 - $2 )); }
+add() { echo $(( $1 + $2 )); }
`;

describe("agent loop over MCP", () => {
  it("mcp: seed, test, patch, diff with a filter, snapshot, break, reset, verify, delete in 12 calls", async () => {
    const client = await mcpClient("agent-loop");
    let calls = 0;
    const call = async <T>(name: string, args: Record<string, unknown>): Promise<T> => {
      calls += 1;
      const result = await client.callTool({ name, arguments: args }, undefined, {
        timeout: 300_000,
      });
      expect(result.isError, `${name}: ${JSON.stringify(result.content)}`).toBeFalsy();
      return result.structuredContent as T;
    };
    type Exec = { exit_code: number; stdout: string };
    try {
      expect(client.getInstructions()).toContain("workspace_reset");
      const seed = seedDirectory({ "calc.sh": CALC, "test.sh": TEST });
      const { workspace_id } = await call<{ workspace_id: string }>("workspace_create", {
        environment: "debian:12",
        seed_path: seed,
      });
      const id = { workspace_id };
      const test = { ...id, command: "sh test.sh" };

      const failing = await call<Exec>("workspace_exec", test);
      expect(failing.exit_code).toBe(1);
      expect(failing.stdout).toContain("FAIL: add 2 3 = -1");

      const source = await call<{ content: string }>("workspace_file_read", { ...id, path: "calc.sh" });
      expect(source.content).toBe(CALC);
      const patched = await call<{ summary: { modified: number } }>("workspace_patch_apply", {
        ...id,
        patch: FIX,
      });
      expect(patched.summary.modified).toBe(1);

      const passing = await call<Exec>("workspace_exec", test);
      expect(passing).toMatchObject({ exit_code: 0, stdout: "PASS\n" });

      // build/ is noise from the test run: the filtered diff is the fix alone.
      const diff = await call<{ entries: { path: string; status: string }[]; patch: string }>(
        "workspace_diff",
        { ...id, exclude: ["build"] },
      );
      expect(diff.entries).toEqual([
        { path: "calc.sh", status: "modified", artifact_type: "file", text_patch: true },
      ]);
      expect(diff.patch).toContain("+add() { echo $(( $1 + $2 )); }");

      await call("snapshot_create", { ...id, snapshot_name: "fixed" });
      await call("workspace_file_write", { ...id, path: "calc.sh", text: "add() { exit 3; }\n" });
      const broken = await call<Exec>("workspace_exec", test);
      expect(broken.exit_code).not.toBe(0);

      // Reset instead of repair: back to the snapshot, in a fresh VM.
      const reset = await call<{ reset_count: number }>("workspace_reset", {
        ...id,
        snapshot: "fixed",
      });
      expect(reset.reset_count).toBe(1);
      const verified = await call<Exec>("workspace_exec", test);
      expect(verified).toMatchObject({ exit_code: 0, stdout: "PASS\n" });

      await call("workspace_delete", id);
      expect(calls).toBe(12);
    } finally {
      await client.close();
    }
    expect(qemuProcesses(stateDir())).toEqual([]);
  }, 600_000);
});
