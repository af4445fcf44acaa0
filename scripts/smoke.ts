/**
 * `make smoke`: one real guest-backed walk through the 2.8.0 loop with the CLI, printing each
 * step and stopping loudly at the first mismatch: create -> exec -> snapshot -> change ->
 * reset -> diff.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const CLI = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "dist",
  "src",
  "cli",
  "main.js",
);

function pyro(...args: string[]): Record<string, unknown> {
  const split = args.indexOf("--");
  const argv =
    split < 0 ? [...args, "--json"] : [...args.slice(0, split), "--json", ...args.slice(split)];
  const result = spawnSync(process.execPath, [CLI, ...argv], { encoding: "utf8" });
  const payload = JSON.parse(result.stdout || "{}") as Record<string, unknown>;
  if (result.status !== 0 && !("exit_code" in payload))
    fail(`pyro ${args.join(" ")} failed: ${result.stdout}${result.stderr}`);
  return payload;
}

function fail(message: string): never {
  throw new Error(message);
}

function expectEqual(what: string, actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected))
    fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  console.log(`[smoke] ok   ${what}`);
}

const seed = mkdtempSync(path.join(os.tmpdir(), "pyro-smoke-"));
writeFileSync(path.join(seed, "app.txt"), "version 1\n");
console.log("[smoke] step create");
const created = pyro("workspace", "create", "debian:12", "--seed-path", seed);
const id = created.workspace_id as string;
try {
  console.log(`[smoke] step exec (workspace ${id})`);
  expectEqual(
    "exec reads the seed",
    pyro("workspace", "exec", id, "--", "cat", "app.txt").stdout,
    "version 1\n",
  );
  pyro(
    "workspace",
    "exec",
    id,
    "--",
    "sh",
    "-c",
    "echo 'version 2' > app.txt && echo extra > extra.txt",
  );
  console.log("[smoke] step snapshot");
  expectEqual(
    "snapshot kind",
    (pyro("workspace", "snapshot", "create", id, "v2").snapshot as { kind: string }).kind,
    "named",
  );
  console.log("[smoke] step change");
  pyro("workspace", "exec", id, "--", "sh", "-c", "rm app.txt && echo junk > /tmp/junk");
  console.log("[smoke] step reset --snapshot v2");
  expectEqual("reset count", pyro("workspace", "reset", id, "--snapshot", "v2").reset_count, 1);
  expectEqual(
    "files back at the snapshot",
    pyro("workspace", "exec", id, "--", "cat", "app.txt", "extra.txt").stdout,
    "version 2\nextra\n",
  );
  expectEqual(
    "/tmp cleared",
    pyro("workspace", "exec", id, "--", "sh", "-c", "test -e /tmp/junk; echo $?").stdout,
    "1\n",
  );
  console.log("[smoke] step diff");
  const diff = pyro("workspace", "diff", id) as { entries: { path: string; status: string }[] };
  expectEqual(
    "diff against baseline",
    diff.entries.map((e) => `${e.status} ${e.path}`),
    ["modified app.txt", "added extra.txt"],
  );
  console.log("[smoke] step reset to baseline");
  pyro("workspace", "reset", id);
  expectEqual(
    "diff after baseline reset",
    (pyro("workspace", "diff", id) as { changed: boolean }).changed,
    false,
  );
  console.log("[smoke] PASS");
} catch (error) {
  console.error(`[smoke] FAIL: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  pyro("workspace", "delete", id);
  console.log("[smoke] deleted the workspace");
}
