import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, pyro } from "../support/cli.js";
import { createWorkspace, seedDirectory, wsExec, type Record_ } from "../support/workspace.js";

/** Named snapshots and reset, through the real CLI against a real VM. */
let ws: Record_;
const id = () => ws.workspace_id;
const seed = seedDirectory({ "app/main.txt": "v0\n", "keep.txt": "keep\n" });
// Every file's path, mode, size, mtime and content hash: what "byte for byte" means here.
const FINGERPRINT = "cd /workspace && find . -path ./lost+found -prune -o -printf '%p %m %s %T@\\n' | sort && find . -type f -not -path './lost+found/*' -print0 | sort -z | xargs -0 sha256sum";

// Count of `sleep` processes (the image has no procps).
const SLEEPERS = "grep -lx sleep /proc/[0-9]*/comm 2>/dev/null | wc -l";

interface SnapshotList {
  snapshots: { snapshot_name: string; kind: string }[];
}
const snapshots = async () =>
  parseJson<SnapshotList>((await pyro(["workspace", "snapshot", "list", id(), "--json"])).stdout).snapshots.map((s) => s.snapshot_name);
const status = async () => parseJson<Record_ & { last_reset_at: string | null }>((await pyro(["workspace", "status", id(), "--json"])).stdout);
const fingerprint = async () => (await wsExec(id(), FINGERPRINT)).stdout;

beforeAll(async () => {
  ws = await createWorkspace(["--seed-path", seed]);
});
afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", id()]);
});

describe("snapshots and reset", () => {
  it("reset: rebuilds the sandbox: /tmp, installed files and processes are gone, history cleared", async () => {
    await wsExec(id(), "echo marker > /tmp/marker; printf '#!/bin/sh\\necho tool\\n' > /usr/local/bin/mytool; chmod +x /usr/local/bin/mytool; setsid sleep 1000 > /dev/null 2>&1 < /dev/null & echo changed > keep.txt");
    expect((await wsExec(id(), `mytool; ${SLEEPERS}`)).stdout).toBe("tool\n1\n");
    const reset = await pyro(["workspace", "reset", id(), "--json"]);
    expect(reset.status).toBe(0);
    const record = parseJson<Record_ & { last_reset_at: string }>(reset.stdout);
    expect(record).toMatchObject({ workspace_id: id(), state: "started", reset_count: 1, command_count: 0 });
    expect(Date.parse(record.last_reset_at)).toBeGreaterThan(Date.parse((ws as unknown as { created_at: string }).created_at));
    const after = await wsExec(id(), `ls /tmp/marker /usr/local/bin/mytool 2>&1; ${SLEEPERS}; cat keep.txt`);
    expect(after.stdout).toContain("No such file or directory");
    expect(after.stdout).toMatch(/^0\nkeep\n$/m);
    const logs = parseJson<{ count: number }>((await pyro(["workspace", "logs", id(), "--json"])).stdout);
    expect(logs.count).toBe(1);
    const diff = parseJson<{ changed: boolean }>((await pyro(["workspace", "diff", id(), "--json"])).stdout);
    expect(diff.changed).toBe(false);
  });

  it("snapshot: reset to a named snapshot restores files byte for byte, with modes and mtimes", async () => {
    await wsExec(id(), "echo v1 > app/main.txt; chmod 700 app/main.txt; mkdir -p gen && head -c 300000 /dev/urandom > gen/blob; ln -s app/main.txt link");
    const before = await fingerprint();
    const created = await pyro(["workspace", "snapshot", "create", id(), "checkpoint", "--json"]);
    expect(created.status).toBe(0);
    expect(parseJson<{ snapshot: { snapshot_name: string; kind: string; entry_count: number } }>(created.stdout).snapshot).toMatchObject({
      snapshot_name: "checkpoint",
      kind: "named",
    });
    await wsExec(id(), "echo broken > app/main.txt; rm -rf gen; touch junk");
    expect(await fingerprint()).not.toBe(before);
    expect((await pyro(["workspace", "reset", id(), "--snapshot", "checkpoint"])).status).toBe(0);
    expect(await fingerprint()).toBe(before);
    // diff still compares with the create-time baseline
    const diff = parseJson<{ entries: { path: string; status: string }[] }>((await pyro(["workspace", "diff", id(), "--json"])).stdout);
    expect(diff.entries.map((e) => `${e.status} ${e.path}`)).toEqual(expect.arrayContaining(["modified app/main.txt", "added gen/blob", "added link"]));
    expect((await status()).reset_count).toBe(2);
  });

  it("snapshot list: baseline first, then named snapshots in creation order", async () => {
    await pyro(["workspace", "snapshot", "create", id(), "second"]);
    await pyro(["workspace", "snapshot", "create", id(), "a-third"]);
    expect(await snapshots()).toEqual(["baseline", "checkpoint", "second", "a-third"]);
  });

  it("snapshot names: invalid, reserved, duplicate and unknown names are refused clearly", async () => {
    const cases: [string[], RegExp][] = [
      // Checked by the declaration's schema, naming the argument as the CLI spells it.
      [["snapshot", "create", id(), "bad name"], /SNAPSHOT_NAME must match \^\[A-Za-z0-9\].*got "bad name"/],
      [["snapshot", "create", id(), "-dash"], /SNAPSHOT_NAME must match|unknown option/],
      [["snapshot", "create", id(), "x".repeat(65)], /SNAPSHOT_NAME must match/],
      [["snapshot", "create", id(), "baseline"], /"baseline" is reserved/],
      [["snapshot", "delete", id(), "baseline"], /"baseline" is reserved/],
      [["snapshot", "create", id(), "checkpoint"], /already exists/],
      [["snapshot", "delete", id(), "nope"], /no snapshot "nope"[\s\S]*Existing snapshots: baseline, checkpoint, second, a-third/],
      [["reset", id(), "--snapshot", "nope"], /no snapshot "nope"[\s\S]*Existing snapshots:/],
    ];
    for (const [args, message] of cases) {
      const result = await pyro(["workspace", ...args]);
      expect(result.status, args.join(" ")).not.toBe(0);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
    expect(await snapshots()).toEqual(["baseline", "checkpoint", "second", "a-third"]);
  });

  it("snapshot delete: a deleted snapshot is gone and reset to it is refused", async () => {
    expect((await pyro(["workspace", "snapshot", "delete", id(), "second"])).status).toBe(0);
    expect(await snapshots()).toEqual(["baseline", "checkpoint", "a-third"]);
    const reset = await pyro(["workspace", "reset", id(), "--snapshot", "second"]);
    expect(reset.status).toBe(1);
    expect(reset.stderr).toContain('no snapshot "second"');
    expect((await status()).state).toBe("started");
  });
});

describe("crash consistency (SIGKILL at each step)", () => {
  it("snapshot create killed after the disk snapshot: not listed, and the name can be reused", async () => {
    const killed = await pyro(["workspace", "snapshot", "create", id(), "half"], { env: { PYRO_FAULT: "snapshot-create:disk-done" } });
    expect(killed.signal).toBe("SIGKILL");
    expect(await snapshots()).not.toContain("half");
    expect((await pyro(["workspace", "snapshot", "create", id(), "half"])).status).toBe(0);
    expect(await snapshots()).toContain("half");
  });

  it("snapshot create with the VM killed while frozen: fails, nothing listed, reset recovers", async () => {
    const result = await pyro(["workspace", "snapshot", "create", id(), "frozen"], {
      env: { PYRO_FAULT: "snapshot-create:frozen", PYRO_FAULT_KILL: "supervisor" },
    });
    expect(result.status).toBe(1);
    expect(await snapshots()).not.toContain("frozen");
    expect((await status()).state).toBe("crashed");
    expect((await pyro(["workspace", "reset", id(), "--snapshot", "checkpoint"])).status).toBe(0);
    expect((await wsExec(id(), "cat app/main.txt")).stdout).toBe("v1\n");
  });

  it("snapshot delete killed between index and disk: not listed, not restorable", async () => {
    const killed = await pyro(["workspace", "snapshot", "delete", id(), "half"], { env: { PYRO_FAULT: "snapshot-delete:index-done" } });
    expect(killed.signal).toBe("SIGKILL");
    expect(await snapshots()).not.toContain("half");
    expect((await pyro(["workspace", "reset", id(), "--snapshot", "half"])).status).toBe(1);
  });

  for (const step of ["reset:stopped", "reset:applied", "reset:before-boot"]) {
    it(`reset killed at ${step}: status is honest and a second reset brings the workspace back`, async () => {
      await wsExec(id(), "echo dirty > app/main.txt");
      const killed = await pyro(["workspace", "reset", id(), "--snapshot", "checkpoint"], { env: { PYRO_FAULT: step } });
      expect(killed.signal).toBe("SIGKILL");
      expect((await status()).state).not.toBe("started");
      const exec = await wsExec(id(), "true");
      expect(exec.status).toBe(1);
      expect(exec.stderr).toMatch(/pyro workspace reset/);
      expect((await pyro(["workspace", "reset", id(), "--snapshot", "checkpoint"])).status).toBe(0);
      expect((await wsExec(id(), "cat app/main.txt")).stdout).toBe("v1\n");
      expect(await snapshots()).toEqual(["baseline", "checkpoint", "a-third"]);
    });
  }
});
