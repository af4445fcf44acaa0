import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pyro } from "../../src/index.js";
import { parseJson, pyro } from "../support/cli.js";
import { createWorkspace, stateDir, wsExec } from "../support/workspace.js";
import { mcpClient } from "../support/mcp.js";

/**
 * Full snapshots (docs/full-snapshots.md): one source workspace for the whole file; forks are
 * the only other VMs. What an agent would check: the package it installed, its service, its
 * shell and its history come back after a reset, and forks are independent copies.
 */
let id = "";
const forks: string[] = [];
/** The shell's output and the journal's length when the full snapshot was taken. */
let before = "";
let historyBefore = 0;

interface SnapshotRow {
  snapshot_name: string;
  snapshot_kind: string;
  disk_bytes: number | null;
}

async function snapshots(workspaceId: string): Promise<SnapshotRow[]> {
  const listed = await pyro(["workspace", "snapshot", "list", workspaceId, "--json"]);
  expect(listed.status, listed.stderr).toBe(0);
  return parseJson<{ snapshots: SnapshotRow[] }>(listed.stdout).snapshots;
}

async function ok(args: string[]): Promise<Record<string, unknown>> {
  const dash = args.indexOf("--");
  const withJson =
    dash < 0 ? [...args, "--json"] : [...args.slice(0, dash), "--json", ...args.slice(dash)];
  const result = await pyro(withJson);
  expect(result.status, `${args.join(" ")}: ${result.stdout}${result.stderr}`).toBe(0);
  return parseJson(result.stdout);
}

async function shellRead(workspaceId: string, cursor: number, until?: string): Promise<string> {
  // Under TCG the echo can lag the write: read until the expected text is there (bounded).
  const deadline = Date.now() + 60_000;
  for (;;) {
    const read = await ok([
      "workspace", "shell", "read", workspaceId, "shell-1",
      "--cursor", String(cursor), "--wait-for-idle-ms", "1000",
    ]);
    const output = String(read.output);
    if (until === undefined || output.includes(until) || Date.now() > deadline) return output;
  }
}


/** A real package install, offline: build a tiny .deb in the guest and dpkg -i it. */
const INSTALL_PACKAGE = [
  "mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/local/bin",
  "printf 'Package: pyro-demo\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@t>\\nDescription: demo\\n' > /tmp/pkg/DEBIAN/control",
  "printf '#!/bin/sh\\necho demo-ok\\n' > /tmp/pkg/usr/local/bin/pyro-demo && chmod 755 /tmp/pkg/usr/local/bin/pyro-demo",
  "dpkg-deb --build /tmp/pkg /tmp/pyro-demo.deb >/dev/null && dpkg -i /tmp/pyro-demo.deb >/dev/null",
].join(" && ");

beforeAll(async () => {
  id = (await createWorkspace()).workspace_id;
});

afterAll(async () => {
  for (const fork of forks) await pyro(["workspace", "delete", fork]);
  if (id) await pyro(["workspace", "delete", id]);
});

describe("full snapshots", () => {
  it("reset over repair: a full snapshot of an installed package, a service and a shell is listed with its size", async () => {
    expect((await wsExec(id, INSTALL_PACKAGE)).status).toBe(0);
    expect((await wsExec(id, "echo kept > /workspace/notes.txt")).status).toBe(0);
    await ok(["workspace", "service", "start", id, "web", "--", "sh", "-c", "while :; do date +%s >> /tmp/ticks; sleep 1; done"]);
    await ok(["workspace", "shell", "open", id]);
    await ok(["workspace", "shell", "write", id, "shell-1", "--input", "echo before-$((6*7))"]);
    before = await shellRead(id, 0, "before-42\r\n");
    expect(before).toContain("before-42");
    historyBefore = Number((await ok(["workspace", "logs", id])).count);

    const created = await ok(["workspace", "snapshot", "create", id, "installed", "--kind", "full"]);
    expect(created.snapshot).toMatchObject({ snapshot_name: "installed", snapshot_kind: "full" });
    const row = (await snapshots(id)).find((s) => s.snapshot_name === "installed");
    expect(row?.snapshot_kind).toBe("full");
    expect(row?.disk_bytes).toBeGreaterThan(20 * 1024 ** 2); // at least the guest's memory in use
    // The sandbox runs on after the snapshot.
    expect((await wsExec(id, "pyro-demo")).stdout).toBe("demo-ok\n");
  });

  it("after a later service, more shell input and a broken root, reset to it restores all", async () => {
    const cursor = before.length;
    // After the snapshot: another service, more shell input, then a broken root filesystem.
    await ok(["workspace", "service", "start", id, "late", "--", "sleep", "1000"]);
    await ok(["workspace", "shell", "write", id, "shell-1", "--input", "echo after-snapshot"]);
    expect(await shellRead(id, cursor, "after-snapshot\r\n")).toContain("after-snapshot");
    expect((await wsExec(id, "dpkg -r pyro-demo >/dev/null; rm -f /bin/ls /workspace/notes.txt")).status).toBe(0);
    expect((await wsExec(id, "pyro-demo")).status).not.toBe(0);

    const reset = await ok(["workspace", "reset", id, "--snapshot", "installed"]);
    expect(reset).toMatchObject({ state: "started", restored_snapshot: "installed" });
  });

  it("after that reset: the package, /workspace, the service, the shell and the journal are as at the snapshot", async () => {
    const cursor = before.length;
    // The package, the root filesystem and /workspace are back.
    const check = await wsExec(id, "pyro-demo && dpkg -s pyro-demo | grep -c '^Status: install ok installed' && test -x /bin/ls && cat /workspace/notes.txt");
    expect(check.stdout).toBe("demo-ok\n1\nkept\n");
    // The service runs on (its process survived: the tick file keeps growing), the later one is gone.
    const services = await ok(["workspace", "service", "list", id]);
    expect((services.services as { service_name: string; state: string }[]).map((s) => [s.service_name, s.state])).toEqual([["web", "running"]]);
    const ticks = async () => Number((await wsExec(id, "wc -l < /tmp/ticks")).stdout.trim());
    const t0 = await ticks();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await ticks()).toBeGreaterThan(t0);
    const processes = await wsExec(id, "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '");
    expect(processes.stdout).toContain("while :");
    expect(processes.stdout).not.toContain("sleep 1000");
    // The shell opened before the snapshot: its history and cursor as they were, and writable.
    const again = await shellRead(id, 0);
    expect(again.slice(0, cursor)).toBe(before);
    expect(again).not.toContain("after-snapshot");
    await ok(["workspace", "shell", "write", id, "shell-1", "--input", "echo after-reset-$((6*7))"]);
    expect(await shellRead(id, cursor, "after-reset-42")).toContain("after-reset-42");
    // The journal is the snapshot's (plus the commands run since the reset).
    const history = (await ok(["workspace", "logs", id])).entries as { command: string }[];
    expect(history.length).toBeGreaterThanOrEqual(historyBefore);
    expect(history.length).toBeLessThan(historyBefore + 6);
    expect(history.some((e) => e.command.includes("dpkg -r"))).toBe(false);
  });

  it("fork (SDK) from the live workspace leaves no temporary snapshot behind", async () => {
    const sdk = new Pyro();
    const first = await sdk.forkWorkspace(id);
    forks.push(first.workspace_id);
    expect(first).toMatchObject({ state: "started", source_workspace_id: id, source_snapshot: null });
    expect(first.workspace_id).not.toBe(id);
    // The temporary full snapshot of a live fork is not left behind.
    expect((await snapshots(id)).map((s) => s.snapshot_name)).toEqual(["baseline", "installed"]);

  });

  it("fork (MCP workspace_fork) from the full snapshot; snapshot_create takes kind", async () => {
    const client = await mcpClient();
    try {
      const { tools } = await client.listTools();
      const fork = tools.find((t) => t.name === "workspace_fork");
      expect(fork?.inputSchema.properties).toHaveProperty("snapshot");
      const create = tools.find((t) => t.name === "snapshot_create");
      expect(create?.inputSchema.properties).toHaveProperty("kind");
      const forked = await client.callTool({
        name: "workspace_fork",
        arguments: { workspace_id: id, snapshot: "installed" },
      });
      expect(forked.isError, JSON.stringify(forked.content)).toBeFalsy();
      forks.push((forked.structuredContent as { workspace_id: string }).workspace_id);
      const bad = await client.callTool({
        name: "snapshot_create",
        arguments: { workspace_id: id, snapshot_name: "x", kind: "everything" },
      });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toContain("INVALID_ARGUMENT");
    } finally {
      await client.close();
    }
  });

  it("forks are independent copies with the source's files, baseline and service, and fresh entropy", async () => {
    const [first, second] = forks as [string, string];
    for (const fork of [first, second]) {
      // The same files, package and running service as the source.
      expect((await wsExec(fork, "pyro-demo && cat /workspace/notes.txt")).stdout).toBe("demo-ok\nkept\n");
      const services = await ok(["workspace", "service", "list", fork]);
      expect(services.running_count).toBe(1);
      // Its diff baseline is the source's: notes.txt is a change in every copy.
      const diff = await ok(["workspace", "diff", fork]);
      expect(JSON.stringify(diff)).toContain("notes.txt");
    }
    // Fresh entropy: the two forks read different bytes.
    const random = async (w: string) => (await wsExec(w, "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'")).stdout;
    const [a, b] = [await random(first), await random(second)];
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
    // Independent: a change in one fork is in neither the other nor the source.
    expect((await wsExec(first, "echo mine > /workspace/only-first")).status).toBe(0);
    for (const other of [second, id]) {
      expect((await wsExec(other, "test -e /workspace/only-first && echo yes || echo no")).stdout).toBe("no\n");
    }
    // Its clock is the host's, not the snapshot's.
    const guestNow = Number((await wsExec(second, "date +%s")).stdout.trim());
    expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(5);
  });

  it("refusals: bad kind, /workspace-only snapshot for a fork, low host disk; kill -9 leaves nothing listed", async () => {
    const badKind = await pyro(["workspace", "snapshot", "create", id, "x", "--kind", "everything"]);
    expect(badKind.status).not.toBe(0);
    expect(badKind.stderr).toMatch(/kind/);

    await ok(["workspace", "snapshot", "create", id, "files-only"]);
    const notFull = await pyro(["workspace", "fork", id, "--snapshot", "files-only", "--json"]);
    expect(notFull.status).not.toBe(0);
    expect(parseJson<{ error: { code: string; hint: string } }>(notFull.stdout).error).toMatchObject({
      code: "INVALID_ARGUMENT",
      hint: expect.stringContaining("--kind full"),
    });

    const low = await pyro(["workspace", "snapshot", "create", id, "big", "--kind", "full", "--json"], {
      env: { PYRO_MIN_FREE_MIB: String(1024 ** 3) },
    });
    expect(low.status).not.toBe(0);
    expect(parseJson<{ error: { code: string; message: string } }>(low.stdout).error).toMatchObject({
      code: "DISK_SPACE_LOW",
      message: expect.stringContaining("free"),
    });

    // kill -9 of the CLI once the VM is saved, before the snapshot is renamed into place.
    const killed = await pyro(["workspace", "snapshot", "create", id, "torn", "--kind", "full"], {
      env: { PYRO_FAULT: "full-snapshot:saved" },
    });
    expect(killed.signal).toBe("SIGKILL");
    const names = (await snapshots(id)).map((s) => s.snapshot_name);
    expect(names).not.toContain("torn");
    expect(names).not.toContain("big");
    const folder = path.join(stateDir(), "workspaces", id, "full-snapshots");
    expect(readdirSync(folder).sort()).toEqual(["installed"]); // the torn one was cleaned up
    // The workspace goes on, and the name can be used.
    await ok(["workspace", "snapshot", "create", id, "torn", "--kind", "full"]);
    await ok(["workspace", "snapshot", "delete", id, "torn"]);
    expect(readdirSync(folder)).toEqual(["installed"]);

  });

  it("kill -9 of the supervisor right after the save: the snapshot is whole, and a reset to it recovers", async () => {
    const killed = await pyro(["workspace", "snapshot", "create", id, "whole", "--kind", "full"], {
      env: { PYRO_FAULT: "full-snapshot:saved", PYRO_FAULT_KILL: "supervisor" },
    });
    expect(killed.status, killed.stderr).toBe(0);
    expect((await snapshots(id)).find((s) => s.snapshot_name === "whole")?.snapshot_kind).toBe("full");
    expect((await ok(["workspace", "status", id])).state).toBe("crashed");
    await ok(["workspace", "reset", id, "--snapshot", "whole"]);
    expect((await wsExec(id, "pyro-demo && cat /workspace/notes.txt")).stdout).toBe("demo-ok\nkept\n");
    expect((await ok(["workspace", "service", "list", id])).running_count).toBe(1);
  });

  it("a stopped workspace refuses a full snapshot; full snapshots are deleted with the workspace", async () => {
    const folder = path.join(stateDir(), "workspaces", id, "full-snapshots");
    // A stopped workspace: refused with a clear error.
    await ok(["workspace", "stop", id]);
    const stopped = await pyro(["workspace", "snapshot", "create", id, "s", "--kind", "full", "--json"]);
    expect(parseJson<{ error: { code: string; hint: string } }>(stopped.stdout).error).toMatchObject({
      code: "WORKSPACE_NOT_RUNNING",
      hint: expect.stringContaining("workspace start"),
    });
    // Deleted with the workspace.
    await ok(["workspace", "delete", id]);
    expect(existsSync(folder)).toBe(false);
    id = "";
  });
});
