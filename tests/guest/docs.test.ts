import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { command as runCommand } from "../support/cli.js";
import { REPO_ROOT } from "../support/paths.js";
import { stateDir } from "../support/workspace.js";

/** The docs' commands run as written: a newcomer copying them gets what the docs show. */
const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), "utf8");

describe("docs", () => {
  it("docs: the README walkthrough runs as written", async () => {
    const block = /```bash\n(# runnable[^\n]*\n[\s\S]*?)```/.exec(read("README.md"))?.[1];
    expect(block).toBeDefined();
    const result = await runCommand("bash", ["-euo", "pipefail", "-c", block as string], {
      cwd: REPO_ROOT,
      env: { PYRO_STATE_DIR: stateDir() },
    });
    expect(result.status, result.stderr).toBe(0);
    const output = result.stdout;
    expect(output).toContain("tests passed");
    expect(output).toContain("No changes since the baseline.");
    expect(readFileSync("/tmp/pyro-walkthrough-README.md", "utf8")).toContain("# a note");
  });

  it("docs: every command of the first-run transcript succeeds and prints what it shows", async () => {
    const doc = read("docs/first-run.md");
    const transcriptId = /Workspace ID: ([0-9a-f]{12})/.exec(doc)?.[1] as string;
    const steps = [...doc.matchAll(/^\$ (npx pyro [^\n]*?)\s{2,}\([\d.]+ s\)\n((?:(?!\$ |```)[^\n]*\n)*)/gm)];
    expect(steps.length).toBeGreaterThan(8);
    let id = transcriptId;
    for (const [, command, shown] of steps) {
      const args = (command as string).replace(transcriptId, id).replace(/^npx pyro /, "");
      const result = await runCommand("bash", ["-c", `npx pyro ${args}`], {
        cwd: REPO_ROOT,
        env: { PYRO_STATE_DIR: stateDir() },
      });
      expect(result.status, command).toBe(0);
      const created = /Workspace ID: ([0-9a-f]{12})/.exec(result.stdout)?.[1];
      if (created && args.startsWith("workspace create")) id = created;
      if (/^(doctor|env list)/.test(args)) continue; // host-specific report lines
      const stable = (shown as string)
        .split("\n")
        .filter((line) => line && !/\d{4}-\d\d-\d\dT|_ms=|\.\.\.|\/work\/|created_at=|Seed: /.test(line))
        .map((line) => line.replaceAll(transcriptId, id));
      for (const line of stable) expect(result.stdout + result.stderr, `${command}: ${line}`).toContain(line);
    }
  });
});
