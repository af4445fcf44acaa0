import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pyro } from "../../src/index.js";
import { seedDirectory } from "../support/workspace.js";

/**
 * File tools, patch, diff filters and summary on one shared workspace, through the SDK (the same
 * declarations serve the CLI and MCP; the agent-loop test drives them over MCP).
 */
const pyro = new Pyro();
let id = "";

const exec = async (command: string) => pyro.execWorkspace(id, { command });
const code = (promise: Promise<unknown>) =>
  promise.then(
    () => "resolved",
    (error: { code?: string; message?: string; hint?: string }) => error.code,
  );

beforeAll(async () => {
  const seed = seedDirectory({
    "src/app.txt": "one\ntwo\nthree\nfour\n",
    "src/keep.txt": "keep\n",
    "docs/readme.md": "# readme\n",
  });
  ({ workspace_id: id } = await pyro.createWorkspace({ environment: "debian:12", seedPath: seed }));
  await exec(
    "ln -s /etc/passwd escape && ln -s src inside && printf 'a\\0b' > bin.dat && chmod 0750 src/keep.txt",
  );
});

afterAll(async () => {
  if (id) await pyro.deleteWorkspace(id);
});

describe("file tools", () => {
  it("files: list a directory, recursively, bounded", async () => {
    const top = await pyro.listWorkspaceFiles(id);
    expect(top.entries.map((e) => e.path).sort()).toEqual([
      "bin.dat",
      "docs",
      "escape",
      "inside",
      "src",
    ]);
    expect(top.entries.find((e) => e.path === "escape")).toMatchObject({
      artifact_type: "symlink",
      link_target: "/etc/passwd",
    });
    const all = await pyro.listWorkspaceFiles(id, { path: "src", recursive: true });
    expect(all.entries.map((e) => e.path).sort()).toEqual(["src/app.txt", "src/keep.txt"]);
    const cut = await pyro.listWorkspaceFiles(id, { recursive: true, maxEntries: 2 });
    expect(cut).toMatchObject({ count: 2, truncated: true });
    expect(await code(pyro.listWorkspaceFiles(id, { path: "nope" }))).toBe("FILE_NOT_FOUND");
  });

  it("files: read line and byte ranges; typed errors for binary, past end, missing, escaping", async () => {
    const lines = await pyro.readWorkspaceFile(id, "src/app.txt", { startLine: 2, endLine: 3 });
    expect(lines).toMatchObject({ content: "two\nthree\n", start_line: 2, end_line: 3 });
    const head = await pyro.readWorkspaceFile(id, "src/app.txt", { maxBytes: 4 });
    expect(head).toMatchObject({ content: "one\n", truncated: true, next_offset: 4, size_bytes: 19 });
    const rest = await pyro.readWorkspaceFile(id, "src/app.txt", { offset: head.next_offset! });
    expect(rest).toMatchObject({ content: "two\nthree\nfour\n", truncated: false });
    // Through a link that stays inside /workspace.
    expect((await pyro.readWorkspaceFile(id, "inside/keep.txt")).content).toBe("keep\n");
    expect(await code(pyro.readWorkspaceFile(id, "bin.dat"))).toBe("FILE_NOT_TEXT");
    expect(await code(pyro.readWorkspaceFile(id, "src/app.txt", { offset: 19 }))).toBe(
      "READ_PAST_END",
    );
    expect(await code(pyro.readWorkspaceFile(id, "src/app.txt", { startLine: 9 }))).toBe(
      "READ_PAST_END",
    );
    expect(await code(pyro.readWorkspaceFile(id, "missing.txt"))).toBe("FILE_NOT_FOUND");
    expect(await code(pyro.readWorkspaceFile(id, "src"))).toBe("NOT_A_FILE");
    expect(await code(pyro.readWorkspaceFile(id, "../etc/passwd"))).toBe("UNSAFE_PATH");
    expect(await code(pyro.readWorkspaceFile(id, "escape"))).toBe("UNSAFE_PATH");
  });

  it("files: write atomically, creating parents and keeping the mode; refusals write nothing", async () => {
    const made = await pyro.writeWorkspaceFile(id, "new/deep/note.txt", { text: "héllo\n" });
    expect(made).toMatchObject({ path: "/workspace/new/deep/note.txt", bytes_written: 7, created: true });
    const again = await pyro.writeWorkspaceFile(id, "src/keep.txt", { text: "kept\n" });
    expect(again.created).toBe(false);
    expect(await code(pyro.writeWorkspaceFile(id, "src", { text: "x" }))).toBe("NOT_A_FILE");
    expect(await code(pyro.writeWorkspaceFile(id, "escape", { text: "x" }))).toBe("UNSAFE_PATH");
    expect(await code(pyro.writeWorkspaceFile(id, "/tmp/out.txt", { text: "x" }))).toBe(
      "UNSAFE_PATH",
    );
    expect(await code(pyro.writeWorkspaceFile(id, "src/keep.txt/x", { text: "x" }))).toBe(
      "NOT_A_FILE",
    );
    const check = await exec(
      "stat -c %a src/keep.txt; cat src/keep.txt; head -1 /etc/passwd | cut -c1-4; ls /tmp/out.txt 2>&1 | wc -l; ls -a | grep -c pyro-stage",
    );
    expect(check.stdout).toBe("750\nkept\nroot\n1\n0\n");
  });

  it("patch: all or nothing, the failing hunk named; adds and deletes files", async () => {
    const bad = [
      "--- a/docs/readme.md",
      "+++ b/docs/readme.md",
      "@@ -1 +1 @@",
      "-# readme",
      "+# README",
      "--- a/src/app.txt",
      "+++ b/src/app.txt",
      "@@ -1,2 +1,2 @@",
      " one",
      "-two",
      "+TWO",
      "@@ -3,2 +3,2 @@",
      " three",
      "-FOUR",
      "+4",
      "",
    ].join("\n");
    const refused = await pyro.applyWorkspacePatch(id, { patch: bad }).catch((e: unknown) => e);
    expect(refused).toMatchObject({
      code: "PATCH_CONFLICT",
      message: expect.stringContaining("hunk #2 @@ -3,2 +3,2 @@ of /workspace/src/app.txt"),
    });
    expect((await pyro.readWorkspaceFile(id, "docs/readme.md")).content).toBe("# readme\n");
    expect(await code(pyro.applyWorkspacePatch(id, { patch: "not a diff" }))).toBe("PATCH_INVALID");
    const escape = "--- a/../x\n+++ b/../x\n@@ -0,0 +1 @@\n+x\n";
    expect(await code(pyro.applyWorkspacePatch(id, { patch: escape }))).toBe("UNSAFE_PATH");
    const exists = "--- /dev/null\n+++ b/src/keep.txt\n@@ -0,0 +1 @@\n+x\n";
    expect(await code(pyro.applyWorkspacePatch(id, { patch: exists }))).toBe("PATCH_CONFLICT");

    const good = [
      "--- a/docs/readme.md",
      "+++ /dev/null",
      "@@ -1 +0,0 @@",
      "-# readme",
      "--- /dev/null",
      "+++ b/docs/guide.md",
      "@@ -0,0 +1 @@",
      "+# guide",
      "--- a/src/app.txt",
      "+++ b/src/app.txt",
      "@@ -1,4 +1,4 @@",
      " one",
      "-two",
      "+TWO",
      " three",
      " four",
      "",
    ].join("\n");
    const applied = await pyro.applyWorkspacePatch(id, { patch: good });
    expect(applied.summary).toEqual({ total: 3, added: 1, modified: 1, deleted: 1 });
    const tree = await exec("cat src/app.txt docs/guide.md; ls docs");
    expect(tree.stdout).toBe("one\nTWO\nthree\nfour\n# guide\nguide.md\n");
  });

  it("diff: include/exclude globs, against a snapshot; summary: a bounded overview", async () => {
    await exec("mkdir -p src/__pycache__ && echo x > src/__pycache__/app.pyc");
    const all = await pyro.diffWorkspace(id);
    expect(all.entries.map((e) => e.path)).toContain("src/__pycache__/app.pyc");
    const filtered = await pyro.diffWorkspace(id, { include: ["src/**"], exclude: ["__pycache__"] });
    expect(filtered.entries.map((e) => e.path)).toEqual(["src/app.txt", "src/keep.txt"]);
    expect(filtered.patch).toContain("+TWO");
    expect(filtered.patch).not.toContain("guide");

    // Against a named snapshot instead of the baseline: only what changed since it.
    await pyro.createSnapshot(id, "before");
    await exec("printf 'one\\nTWO\\nthree\\nfive\\n' > src/app.txt && echo y > src/new.txt");
    const sinceSnapshot = await pyro.diffWorkspace(id, { snapshot: "before", exclude: ["__pycache__"] });
    expect(sinceSnapshot.entries.map((e) => [e.path, e.status])).toEqual([
      ["src/app.txt", "modified"],
      ["src/new.txt", "added"],
    ]);
    expect(sinceSnapshot.patch).toContain("-four\n+five");
    expect(await code(pyro.diffWorkspace(id, { snapshot: "nope" }))).toBe("SNAPSHOT_NOT_FOUND");

    const summary = await pyro.summarizeWorkspace(id);
    expect(summary).toMatchObject({ workspace_id: id, state: "started", notes: [] });
    expect(summary.changes?.total).toBe(all.summary.total + 1);
    expect(summary.snapshots.map((s) => s.snapshot_name)).toEqual(["baseline", "before"]);
    expect(summary.recent_commands.at(-1)?.command).toContain("src/new.txt");
    expect(summary.command_count).toBe(summary.recent_commands.at(-1)?.sequence);
  });
});
