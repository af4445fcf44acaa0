import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pyro } from "../../src/index.js";
import { pyro } from "../support/cli.js";
import { cliJson, errorCode, readUntil, type ShellRead } from "../support/shells.js";
import { createWorkspace, type Record_ } from "../support/workspace.js";

/** PTY shells through the real CLI: one workspace for the whole file, a shell per test. */
let ws: Record_;
let id: string;

beforeAll(async () => {
  ws = await createWorkspace();
  id = ws.workspace_id;
});

afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", ws.workspace_id]);
});

async function openShell(extra: string[] = []): Promise<string> {
  const opened = await cliJson<{ shell_id: string; state: string; cwd: string }>([
    "workspace", "shell", "open", id, ...extra,
  ]);
  expect(opened.state).toBe("running");
  await readUntil(id, opened.shell_id, /# $/); // the prompt
  return opened.shell_id;
}

const write = (shellId: string, input: string, extra: string[] = []) =>
  pyro(["workspace", "shell", "write", id, shellId, "--input", input, ...extra]);

describe("workspace shells", () => {
  it("shell: keeps cwd and env across separate CLI processes", async () => {
    const opened = await cliJson<{ shell_id: string; cwd: string; cols: number; rows: number }>([
      "workspace", "shell", "open", id,
    ]);
    expect(opened).toMatchObject({ shell_id: expect.stringMatching(/^shell-\d+$/), cwd: "/workspace", cols: 120, rows: 30 });
    const shellId = opened.shell_id;
    expect((await write(shellId, "mkdir -p /tmp/deep && cd /tmp/deep && export PYRO_T=kept")).status).toBe(0);
    expect((await write(shellId, 'echo "at:$PWD:$PYRO_T"')).status).toBe(0);
    const { raw } = await readUntil(id, shellId, /at:\/tmp\/deep:kept/);
    expect(raw).toContain("at:/tmp/deep:kept");
    const list = await cliJson<{ count: number; shells: { shell_id: string; state: string }[] }>([
      "workspace", "shell", "list", id,
    ]);
    expect(list.shells).toEqual(expect.arrayContaining([expect.objectContaining({ shell_id: shellId, state: "running" })]));
  });

  it("shell: --plain shows a colourful command's text without escapes; cursors stay raw", async () => {
    const shellId = await openShell();
    const before = await cliJson<ShellRead>(["workspace", "shell", "read", id, shellId]);
    await write(shellId, "printf '\\033[31mred\\033[0m and \\033[1mbold\\033[0m\\n'");
    const { raw } = await readUntil(id, shellId, /red and bold\n/, { cursor: before.next_cursor });
    expect(raw).toContain("\x1b[31mred\x1b[0m");
    const plain = await pyro(["workspace", "shell", "read", id, shellId, "--cursor", String(before.next_cursor), "--plain"]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain("\nred and bold\n");
    expect(plain.stdout).not.toContain("\x1b");
    expect(plain.stderr).toMatch(/\[workspace-shell-read\] .*shell_id=shell-\d+ state=running cursor=\d+ next_cursor=\d+/);
    const plainJson = await cliJson<ShellRead & { plain: boolean }>([
      "workspace", "shell", "read", id, shellId, "--cursor", String(before.next_cursor), "--plain",
    ]);
    const rawJson = await cliJson<ShellRead>(["workspace", "shell", "read", id, shellId, "--cursor", String(before.next_cursor)]);
    expect(plainJson.plain).toBe(true);
    expect(plainJson.next_cursor).toBe(rawJson.next_cursor);
  });

  it("shell: signal INT stops `sleep 100` and the shell stays usable", async () => {
    const shellId = await openShell();
    await write(shellId, "sleep 100");
    await readUntil(id, shellId, /sleep 100\n/);
    const started = Date.now();
    const signalled = await cliJson<{ signal: string; state: string }>(["workspace", "shell", "signal", id, shellId]);
    expect(signalled).toMatchObject({ signal: "INT", state: "running" });
    await write(shellId, "echo after-$((40+2))");
    await readUntil(id, shellId, /after-42/);
    expect(Date.now() - started).toBeLessThan(30_000);
    const bad = await pyro(["workspace", "shell", "signal", id, shellId, "--signal", "USR1"]);
    expect(bad.status).not.toBe(0);
  });

  it("shell: resize is seen by `stty size`", async () => {
    const shellId = await openShell(["--cols", "90", "--rows", "20"]);
    await write(shellId, "stty size");
    await readUntil(id, shellId, /^20 90$/m);
    const resized = await cliJson<{ cols: number; rows: number }>([
      "workspace", "shell", "resize", id, shellId, "--cols", "100", "--rows", "40",
    ]);
    expect(resized).toMatchObject({ cols: 100, rows: 40 });
    await write(shellId, "stty size");
    await readUntil(id, shellId, /^40 100$/m);
    const tooBig = await pyro(["workspace", "shell", "resize", id, shellId, "--cols", "5000", "--rows", "40", "--json"]);
    expect(errorCode(tooBig)).toBe("INVALID_ARGUMENT");
  });

  it("shell: a shell whose process exits is stopped, readable, and refuses writes", async () => {
    const shellId = await openShell();
    await write(shellId, "echo last-words; exit 7");
    let read: ShellRead | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      read = await cliJson<ShellRead>(["workspace", "shell", "read", id, shellId]);
      if (read.state === "stopped") break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(read).toMatchObject({ state: "stopped", exit_code: 7 });
    expect(read?.output).toContain("last-words");
    const refused = await pyro(["workspace", "shell", "write", id, shellId, "--input", "echo hi", "--json"]);
    expect(refused.status).toBe(1);
    expect(errorCode(refused)).toBe("SHELL_NOT_RUNNING");
    const human = await write(shellId, "echo hi");
    expect(human.stderr).toMatch(/its shell exited \(exit code 7\)[\s\S]*hint:/);
    const closed = await cliJson<{ closed: boolean }>(["workspace", "shell", "close", id, shellId]);
    expect(closed.closed).toBe(true);
    const gone = await pyro(["workspace", "shell", "read", id, shellId, "--json"]);
    expect(errorCode(gone)).toBe("SHELL_NOT_FOUND");
  });

  it("shell: a second client (the SDK, concurrently) reads the same bytes", async () => {
    const shellId = await openShell();
    await write(shellId, "for i in 1 2 3; do echo line-$i; done");
    await readUntil(id, shellId, /line-3/);
    const sdk = new Pyro();
    const [cli, fromSdk] = await Promise.all([
      cliJson<ShellRead>(["workspace", "shell", "read", id, shellId, "--wait-for-idle-ms", "300"]),
      sdk.readShell(id, shellId, { waitForIdleMs: 300 }),
    ]);
    expect(fromSdk.output).toBe(cli.output);
    expect(fromSdk.next_cursor).toBe(cli.next_cursor);
    expect(cli.output).toContain("line-3");
  });

  it("shell: a flood of output stays bounded and the reader learns what it lost", async () => {
    const shellId = await openShell();
    await write(shellId, "yes | head -c 2000000; echo flood-done");
    let read: ShellRead | undefined;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      read = await cliJson<ShellRead>(["workspace", "shell", "read", id, shellId, "--max-chars", "10", "--wait-for-idle-ms", "500"]);
      if (read.end_cursor > 3_000_000) {
        const tail = await cliJson<ShellRead>(["workspace", "shell", "read", id, shellId, "--cursor", String(read.end_cursor - 200)]);
        if (tail.output.includes("flood-done")) break;
      }
    }
    expect(read).toBeDefined();
    const all = await cliJson<ShellRead>(["workspace", "shell", "read", id, shellId, "--max-chars", "1048576"]);
    expect(all.truncated).toBe(true);
    expect(all.cursor).toBe(all.truncated_chars);
    expect(all.end_cursor - all.cursor).toBeLessThanOrEqual(1024 * 1024);
    expect(all.end_cursor).toBeGreaterThan(3_000_000); // "y\r\n" per line through the terminal
    expect(all.output.length).toBe(all.end_cursor - all.cursor);
    // The shell is still fine.
    await write(shellId, "echo still-$((1+1))");
    await readUntil(id, shellId, /still-2/, { cursor: all.end_cursor });
  });

  it("shell: unknown and malformed shell ids are typed errors", async () => {
    for (const shellId of ["shell-999", "../x", "shell-0"]) {
      const result = await pyro(["workspace", "shell", "read", id, shellId, "--json"]);
      expect(result.status).toBe(1);
      expect(errorCode(result)).toBe("SHELL_NOT_FOUND");
    }
    const human = await pyro(["workspace", "shell", "close", id, "shell-999"]);
    expect(human.stderr).toMatch(/no shell shell-999[\s\S]*hint: .*shell list/);
    const cwd = await pyro(["workspace", "shell", "open", id, "--cwd", "../etc", "--json"]);
    expect(errorCode(cwd)).toBe("UNSAFE_PATH");
  });
});
