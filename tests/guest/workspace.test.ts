import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, lstatSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, pyro, qemuProcesses } from "../support/cli.js";
import { craftTar } from "../support/tar-craft.js";
import { createWorkspace, seedDirectory, stateDir, wsExec, type Record_ } from "../support/workspace.js";

/** One workspace seeded from a directory, driven through the real CLI from start to delete. */
let ws: Record_;
const out = mkdtempSync(path.join(os.tmpdir(), "pyro-out-"));
const seed = seedDirectory({ "README.md": "hello\nworld\n", "src/app.sh": "echo app\n", "data/blob.bin": "\u0000\u0001binary" });

beforeAll(async () => {
  ws = await createWorkspace(["--seed-path", seed]);
});

afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", ws.workspace_id]);
});

describe("workspace lifecycle", () => {
  it("create: seeds /workspace from a directory and reports the seed", async () => {
    expect(ws.state).toBe("started");
    expect(ws.workspace_seed).toMatchObject({ mode: "directory", entry_count: 5 });
    const result = await wsExec(ws.workspace_id, "pwd; cat README.md; sh src/app.sh");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe("/workspace\nhello\nworld\napp\n");
  });

  it("exec: exit status is the command's and every exec is journaled in order", async () => {
    const failing = await wsExec(ws.workspace_id, "echo oops >&2; exit 5");
    expect(failing.status).toBe(5);
    expect(failing.stderr).toMatch(/\[workspace-exec\] .*sequence=\d+ .*exit_code=5/);
    const logs = parseJson<{ count: number; entries: { sequence: number; command: string; exit_code: number; stderr: string }[] }>(
      (await pyro(["workspace", "logs", ws.workspace_id, "--json"])).stdout,
    );
    expect(logs.entries.map((e) => e.sequence)).toEqual(Array.from({ length: logs.count }, (_, i) => i + 1));
    expect(logs.entries.at(-1)).toMatchObject({ exit_code: 5, stderr: "oops\n", command: "sh -c 'echo oops >&2; exit 5'" });
    const status = parseJson<Record_>((await pyro(["workspace", "status", ws.workspace_id, "--json"])).stdout);
    expect(status.command_count).toBe(logs.count);
  });

  it("diff: reports exactly the added, modified and deleted paths with a correct patch", async () => {
    const clean = parseJson<{ changed: boolean; entries: unknown[] }>((await pyro(["workspace", "diff", ws.workspace_id, "--json"])).stdout);
    expect(clean).toMatchObject({ changed: false, entries: [] });
    await wsExec(ws.workspace_id, "printf 'hello\\nthere\\n' > README.md; echo new > added.txt; rm src/app.sh; printf '\\0\\2' > data/blob.bin; mkdir -p newdir");
    const diff = parseJson<{
      changed: boolean;
      summary: Record<string, number>;
      entries: { path: string; status: string; artifact_type: string; text_patch: boolean }[];
      patch: string;
    }>((await pyro(["workspace", "diff", ws.workspace_id, "--json"])).stdout);
    expect(diff.changed).toBe(true);
    expect(diff.entries.map((e) => [e.path, e.status, e.artifact_type])).toEqual([
      ["added.txt", "added", "file"],
      ["data/blob.bin", "modified", "file"],
      ["newdir", "added", "directory"],
      ["README.md", "modified", "file"],
      ["src/app.sh", "deleted", "file"],
    ].sort((a, b) => (a[0] as string).localeCompare(b[0] as string)));
    expect(diff.entries.find((e) => e.path === "data/blob.bin")?.text_patch).toBe(false);
    expect(diff.patch).toContain("--- a/README.md\n+++ b/README.md\n@@ -1,2 +1,2 @@\n hello\n-world\n+there\n");
    expect(diff.patch).toContain("--- /dev/null\n+++ b/added.txt\n@@ -0,0 +1,1 @@\n+new\n");
    expect(diff.patch).toContain("--- a/src/app.sh\n+++ /dev/null\n");
    expect(diff.summary).toMatchObject({ total: 5, added: 2, modified: 2, deleted: 1, type_changed: 0 });
    // Applying the patch to the seed reproduces the guest's text files.
    const copy = mkdtempSync(path.join(os.tmpdir(), "pyro-patch-"));
    execFileSync("cp", ["-r", `${seed}/.`, copy]);
    execFileSync("patch", ["-p1", "-s", "-d", copy], { input: diff.patch });
    expect(readFileSync(path.join(copy, "README.md"), "utf8")).toBe("hello\nthere\n");
    expect(existsSync(path.join(copy, "src/app.sh"))).toBe(false);
  });

  it("sync push: copies a directory and a .tgz under /workspace, and diff sees it", async () => {
    const dir = seedDirectory({ "one.txt": "1\n", "deep/two.txt": "2\n" });
    const pushed = await pyro(["workspace", "sync", "push", ws.workspace_id, dir, "--dest", "incoming", "--json"]);
    expect(pushed.status).toBe(0);
    expect(parseJson<{ workspace_sync: { destination: string; entry_count: number } }>(pushed.stdout).workspace_sync).toMatchObject({
      destination: "/workspace/incoming",
      entry_count: 3,
    });
    const tgz = path.join(out, "bundle.tgz");
    execFileSync("tar", ["-czf", tgz, "-C", dir, "."]);
    expect((await pyro(["workspace", "sync", "push", ws.workspace_id, tgz])).status).toBe(0);
    const listing = await wsExec(ws.workspace_id, "cat incoming/one.txt incoming/deep/two.txt one.txt");
    expect(listing.stdout).toBe("1\n2\n1\n");
    const diff = parseJson<{ entries: { path: string }[] }>((await pyro(["workspace", "diff", ws.workspace_id, "--json"])).stdout);
    expect(diff.entries.map((e) => e.path)).toEqual(expect.arrayContaining(["incoming/deep/two.txt", "one.txt"]));
  });

  it("export: copies a file and a directory to the host, and refuses to overwrite", async () => {
    const file = path.join(out, "readme.txt");
    const exported = await pyro(["workspace", "export", ws.workspace_id, "README.md", "--output", file, "--json"]);
    expect(exported.status).toBe(0);
    expect(parseJson<{ artifact_type: string }>(exported.stdout).artifact_type).toBe("file");
    expect(readFileSync(file, "utf8")).toBe("hello\nthere\n");
    const dirOut = path.join(out, "incoming");
    const dirResult = parseJson<{ artifact_type: string; entry_count: number }>(
      (await pyro(["workspace", "export", ws.workspace_id, "/workspace/incoming", "--output", dirOut, "--json"])).stdout,
    );
    expect(dirResult).toMatchObject({ artifact_type: "directory", entry_count: 4 });
    expect(readFileSync(path.join(dirOut, "deep", "two.txt"), "utf8")).toBe("2\n");
    const again = await pyro(["workspace", "export", ws.workspace_id, "README.md", "--output", file]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/already exists[\s\S]*--overwrite/);
    expect((await pyro(["workspace", "export", ws.workspace_id, "README.md", "--output", file, "--overwrite"])).status).toBe(0);
  });

  it("export: rejects paths outside /workspace and symlinks leading out", async () => {
    const escape = await pyro(["workspace", "export", ws.workspace_id, "../etc/passwd", "--output", path.join(out, "passwd")]);
    expect(escape.status).toBe(1);
    expect(escape.stderr).toContain("outside /workspace");
    await wsExec(ws.workspace_id, "ln -s /etc/passwd leak");
    const link = await pyro(["workspace", "export", ws.workspace_id, "leak", "--output", path.join(out, "leak"), "--json"]);
    expect(link.status).toBe(1);
    expect(parseJson<{ error: { code: string } }>(link.stdout).error.code).toBe("UNSAFE_ARCHIVE");
    expect(existsSync(path.join(out, "leak"))).toBe(false);
    expect(readdirSync(out).filter((n) => n.startsWith(".pyro-export-"))).toEqual([]);
  });

  it("export: a guest that sends an archive with escaping entries is refused by the host", async () => {
    // Play a compromised guest: shadow tar with a script that emits a hostile archive.
    const evil = craftTar([{ name: "../../escaped.txt", content: "pwned" }]).toString("base64");
    await wsExec(
      ws.workspace_id,
      `echo ${evil} | base64 -d > /root/evil.tar; printf '#!/bin/sh\\ncat /root/evil.tar\\n' > /usr/local/bin/tar; chmod +x /usr/local/bin/tar`,
    );
    const target = path.join(out, "nested", "victim");
    mkdirSync(path.dirname(target), { recursive: true });
    const result = await pyro(["workspace", "export", ws.workspace_id, "README.md", "--output", target, "--json"]);
    expect(result.status).toBe(1);
    expect(parseJson<{ error: { code: string } }>(result.stdout).error.code).toBe("UNSAFE_ARCHIVE");
    expect(existsSync(path.join(out, "escaped.txt"))).toBe(false);
    expect(existsSync(path.join(os.tmpdir(), "escaped.txt"))).toBe(false);
    await wsExec(ws.workspace_id, "rm /usr/local/bin/tar");
  });

  it("sync push: rejects destinations outside /workspace", async () => {
    const dir = seedDirectory({ "x.txt": "x" });
    for (const dest of ["../escape", "/etc"]) {
      const result = await pyro(["workspace", "sync", "push", ws.workspace_id, dir, "--dest", dest]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("outside /workspace");
    }
  });

  it("concurrency: a long exec does not block status, logs or another exec from other processes", async () => {
    const long = wsExec(ws.workspace_id, "sleep 15; echo long-done");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const started = Date.now();
    const [status, logs, quick] = await Promise.all([
      pyro(["workspace", "status", ws.workspace_id]),
      pyro(["workspace", "logs", ws.workspace_id]),
      wsExec(ws.workspace_id, "echo quick"),
    ]);
    const took = Date.now() - started;
    expect([status.status, logs.status, quick.status]).toEqual([0, 0, 0]);
    expect(quick.stdout).toBe("quick\n");
    expect(took).toBeLessThan(10_000);
    const longResult = await long;
    expect(longResult.stdout).toBe("long-done\n");
  });

  it("delete: stops the VM and removes every file of the workspace", async () => {
    const extra = await createWorkspace();
    const dir = path.join(stateDir(), "workspaces", extra.workspace_id);
    expect(qemuProcesses(dir).length).toBe(1);
    const deleted = await pyro(["workspace", "delete", extra.workspace_id, "--json"]);
    expect(parseJson(deleted.stdout)).toEqual({ workspace_id: extra.workspace_id, deleted: true });
    expect(existsSync(dir)).toBe(false);
    expect(qemuProcesses(dir)).toEqual([]);
    const after = await pyro(["workspace", "status", extra.workspace_id]);
    expect(after.status).toBe(1);
    expect(after.stderr).toContain(`no workspace with id "${extra.workspace_id}"`);
  });
});

describe("workspace faults", () => {
  it("create: seeds from a .tgz archive", async () => {
    const dir = seedDirectory({ "pkg/main.txt": "from tgz\n" });
    const tgz = path.join(out, "seed.tgz");
    execFileSync("tar", ["-czf", tgz, "-C", dir, "."]);
    const created = await createWorkspace(["--seed-path", tgz]);
    try {
      expect(created.workspace_seed.mode).toBe("tar_archive");
      expect((await wsExec(created.workspace_id, "cat pkg/main.txt")).stdout).toBe("from tgz\n");
    } finally {
      await pyro(["workspace", "delete", created.workspace_id]);
    }
  });

  it("status: a VM that died is reported with its last error; folder and baseline stay", async () => {
    const created = await createWorkspace();
    const dir = path.join(stateDir(), "workspaces", created.workspace_id);
    try {
      const [line] = qemuProcesses(dir);
      process.kill(Number(line?.trim().split(/\s+/)[0]), "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const status = parseJson<Record_>((await pyro(["workspace", "status", created.workspace_id, "--json"])).stdout);
      expect(status.state).toBe("crashed");
      expect(status.last_error).toMatch(/stopped unexpectedly|no longer running/);
      expect(lstatSync(path.join(dir, "baseline.ext4")).isFile()).toBe(true);
      const exec = await wsExec(created.workspace_id, "true");
      expect(exec.status).toBe(1);
      expect(exec.stderr).toMatch(/is crashed[\s\S]*hint: .*pyro workspace (reset|delete)/);
    } finally {
      await pyro(["workspace", "delete", created.workspace_id]);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it("ttl: an expired workspace is stopped and removed by its supervisor", async () => {
    const created = await createWorkspace(["--ttl-seconds", "8"]);
    const dir = path.join(stateDir(), "workspaces", created.workspace_id);
    const deadline = Date.now() + 30_000;
    while (existsSync(dir) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(existsSync(dir)).toBe(false);
    expect(qemuProcesses(dir)).toEqual([]);
  });

  it("bad input: unknown ids, missing and hostile seeds fail clearly and leave nothing", async () => {
    const before = readdirSync(path.join(stateDir(), "workspaces")).length;
    const unknown = await pyro(["workspace", "exec", "0123456789ab", "--", "true"]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no workspace with id "0123456789ab"[\s\S]*hint:/);
    const garbage = await pyro(["workspace", "status", "../../etc"]);
    expect(garbage.stderr).toContain('no workspace with id or name "../../etc"');
    const missing = await pyro(["workspace", "create", "debian:12", "--seed-path", "/nonexistent/seed"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("/nonexistent/seed does not exist");
    const dir = seedDirectory({ "ok.txt": "ok" });
    execFileSync("ln", ["-s", "/etc/shadow", path.join(dir, "shadow")]);
    const hostile = await pyro(["workspace", "create", "debian:12", "--seed-path", dir]);
    expect(hostile.status).toBe(1);
    expect(hostile.stderr).toMatch(/symlink "shadow" -> "\/etc\/shadow" is absolute and leads outside/);
    writeFileSync(path.join(out, "bad.tar"), "this is not a tar archive at all".repeat(40));
    const corrupt = await pyro(["workspace", "create", "debian:12", "--seed-path", path.join(out, "bad.tar")]);
    expect(corrupt.status).toBe(1);
    expect(corrupt.stderr).toMatch(/corrupt or truncated|UNSAFE|archive/);
    expect(readdirSync(path.join(stateDir(), "workspaces")).length).toBe(before);
  });

  it("list: unreadable or orphaned workspace folders are reported, not crashed on, and can be deleted", async () => {
    const broken = path.join(stateDir(), "workspaces", "badbadbadbad");
    mkdirSync(broken, { recursive: true });
    writeFileSync(path.join(broken, "workspace.json"), "{ not json");
    const list = await pyro(["workspace", "list", "--json"]);
    expect(list.status).toBe(0);
    const payload = parseJson<{ unreadable: { workspace_id: string; problem: string }[] }>(list.stdout);
    expect(payload.unreadable).toEqual([{ workspace_id: "badbadbadbad", problem: expect.stringMatching(/unreadable/) }]);
    const status = await pyro(["workspace", "status", "badbadbadbad"]);
    expect(status.status).toBe(1);
    expect(status.stderr).toMatch(/unreadable[\s\S]*hint: .*pyro workspace delete badbadbadbad/);
    expect((await pyro(["workspace", "delete", "badbadbadbad"])).status).toBe(0);
    expect(existsSync(broken)).toBe(false);
  });
});
