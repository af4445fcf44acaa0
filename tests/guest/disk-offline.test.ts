import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pyro } from "../../src/sdk/pyro.js";
import { parseJson, pyro } from "../support/cli.js";
import { createWorkspace, seedDirectory, stateDir, wsExec, type Record_ } from "../support/workspace.js";

/**
 * Offline disk tools on one real debian:12 workspace: refused while it runs, then its QEMU is
 * killed and /workspace is listed, read and exported from the disk (current state, a named
 * snapshot, the baseline) without booting. The guest's hostile tree (setuid, links out, FIFO,
 * device, long and non-UTF-8 names) gets the same refusals as a live export, and a damaged disk
 * gives DISK_UNREADABLE quickly. Nothing is left at --output, in staging or in the temp dir.
 */
let ws: Record_;
let id: string;
const out = mkdtempSync(path.join(os.tmpdir(), "pyro-disk-out-"));

interface Failure {
  error: { code: string; message: string; hint?: string };
}
interface Entry {
  path: string;
  artifact_type: string;
  size_bytes: number;
  mode: string;
  link_target: string | null;
}

const disk = (...args: string[]) => pyro(["workspace", "disk", ...args, "--json"]);

function leftovers(): { staging: string[]; temp: string[]; out: string[] } {
  const staging = path.join(stateDir(), "staging");
  return {
    staging: existsSync(staging) ? readdirSync(staging) : [],
    temp: readdirSync(os.tmpdir()).filter((n) => n.startsWith(".pyro-export-disk-")),
    out: readdirSync(out).sort(),
  };
}

async function fails(args: string[], code: string, message: RegExp): Promise<Failure["error"]> {
  const before = leftovers();
  const result = await disk(...args);
  expect(result.status, result.stdout + result.stderr).toBe(1);
  const error = parseJson<Failure>(result.stdout).error;
  expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
  expect(error.hint).toBeTruthy();
  expect(leftovers()).toEqual(before);
  return error;
}

async function killQemu(workspaceId: string): Promise<void> {
  const folder = path.join(stateDir(), "workspaces", workspaceId);
  const pids = execFileSync("pgrep", ["-f", `qemu-system.*${folder}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  expect(pids.length).toBe(1);
  process.kill(Number(pids[0]), "SIGKILL");
  for (let i = 0; i < 100; i += 1) {
    const status = await pyro(["workspace", "status", workspaceId, "--json"]);
    if (parseJson<Record_>(status.stdout).state === "crashed") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("workspace did not become crashed after its QEMU was killed");
}

beforeAll(async () => {
  ws = await createWorkspace(["--seed-path", seedDirectory({ "notes.txt": "hello\n", "src/app.py": "print(1)\n" })]);
  id = ws.workspace_id;
  const setup = await wsExec(
    id,
    [
      "cp /bin/dash suid && chmod 4755 suid",
      "mkdir -p chain/x && ln -s .. chain/x/up && ln -s up/.. chain/x/up2",
      "mkdir -p abs && echo ok > abs/f && ln -s /etc/hostname abs/host",
      "mkdir -p fifo && mkfifo fifo/p",
      "mkdir -p dev && mknod dev/null2 c 1 3",
      "mkdir -p latin && touch \"latin/$(printf 'caf\\351')\"",
      "mkdir -p hard && echo same > hard/one && ln hard/one hard/two && ln -s one hard/soft",
      "head -c 300000 /dev/urandom > src/blob.bin",
    ].join(" && "),
  );
  expect(setup.status, setup.stderr).toBe(0);
  // Deeper than PATH_MAX: the guest's shell gives up part way (as in hostile-export), by design.
  await wsExec(id, "mkdir deep && cd deep && for i in $(seq 1 18); do n=$(printf '%0250d' $i); mkdir $n && cd $n; done");
  expect((await pyro(["workspace", "snapshot", "create", id, "before"])).status).toBe(0);
  expect((await wsExec(id, "echo changed > notes.txt && sync")).status).toBe(0);
});

afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", id]);
  execFileSync("rm", ["-rf", out]);
});

describe("offline disk tools", () => {
  it("disk: a running workspace is refused with a hint to export or stop it", async () => {
    const error = await fails(["list", id], "WORKSPACE_RUNNING", /is running/);
    expect(error.hint).toMatch(/workspace export/);
  });

  it("disk: after QEMU is killed, list shows the tree with types, sizes and link targets", async () => {
    await killQemu(id);
    const top = parseJson<{ entries: Entry[]; count: number }>((await disk("list", id)).stdout);
    const byPath = new Map(top.entries.map((e) => [e.path, e]));
    expect(byPath.get("/workspace/notes.txt")).toMatchObject({ artifact_type: "file", size_bytes: 8 });
    expect(byPath.get("/workspace/src")).toMatchObject({ artifact_type: "directory" });
    expect(byPath.has("/workspace/src/app.py")).toBe(false);
    const all = parseJson<{ entries: Entry[] }>((await disk("list", id, "/workspace", "--recursive")).stdout);
    const deep = new Map(all.entries.map((e) => [e.path, e]));
    expect(deep.get("/workspace/src/app.py")).toMatchObject({ size_bytes: 9 });
    expect(deep.get("/workspace/abs/host")).toMatchObject({ artifact_type: "symlink", link_target: "/etc/hostname" });
    expect(deep.get("/workspace/fifo/p")?.artifact_type).toBe("fifo");
    expect(deep.get("/workspace/dev/null2")?.artifact_type).toBe("char_device");
    expect(deep.get("/workspace/suid")?.mode).toBe("4755");
    expect(deep.has("/workspace/latin/caf\\xe9")).toBe(true);
    // The human form prints one line per entry.
    const human = await pyro(["workspace", "disk", "list", id, "src"]);
    expect(human.stdout).toMatch(/file +0644 +9 \/workspace\/src\/app\.py/);
  });

  it("disk: read gives the current content, a snapshot's and the baseline's, bounded by --max-bytes", async () => {
    const read = (...a: string[]) => disk("read", id, ...a).then((r) => parseJson<{ content: string; truncated: boolean; size_bytes: number }>(r.stdout));
    expect(await read("notes.txt")).toMatchObject({ content: "changed\n", truncated: false });
    expect(await read("notes.txt", "--snapshot", "before")).toMatchObject({ content: "hello\n" });
    expect(await read("/workspace/notes.txt", "--snapshot", "baseline")).toMatchObject({ content: "hello\n" });
    expect(await read("notes.txt", "--max-bytes", "3")).toMatchObject({ content: "cha", truncated: true, size_bytes: 8 });
    const raw = await pyro(["workspace", "disk", "read", id, "src/app.py"]);
    expect(raw.stdout).toBe("print(1)\n");
    await fails(["read", id, "abs/host"], "UNSAFE_PATH", /symlink/);
    await fails(["read", id, "hard/soft/x"], "UNSAFE_PATH", /symlink.*do not follow/);
    await fails(["read", id, "fifo/p"], "UNSAFE_PATH", /fifo/);
    await fails(["read", id, "nope.txt"], "DISK_PATH_NOT_FOUND", /does not exist/);
    await fails(["read", id, "../etc/passwd"], "UNSAFE_PATH", /outside \/workspace/);
    await fails(["read", id, "notes.txt", "--snapshot", "ghost"], "SNAPSHOT_NOT_FOUND", /ghost/);
  });

  it("disk: export writes the tree with the export rules: no setuid, hard and soft links kept", async () => {
    const src = path.join(out, "src");
    const result = await disk("export", id, "src", "--output", src);
    expect(result.status, result.stdout).toBe(0);
    expect(readFileSync(path.join(src, "app.py"), "utf8")).toBe("print(1)\n");
    expect(statSync(path.join(src, "blob.bin")).size).toBe(300000);
    const suid = path.join(out, "suid");
    expect((await disk("export", id, "suid", "--output", suid)).status).toBe(0);
    expect(statSync(suid).mode & 0o7777).toBe(0o755);
    const hard = path.join(out, "hard");
    expect((await disk("export", id, "hard", "--output", hard)).status).toBe(0);
    expect(statSync(path.join(hard, "one")).ino).toBe(statSync(path.join(hard, "two")).ino);
    expect(lstatSync(path.join(hard, "soft")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path.join(hard, "soft"))).toBe("one");
    const whole = path.join(out, "before");
    const sdk = new Pyro();
    const payload = await sdk.exportWorkspaceDisk(id, { outputPath: whole, path: "src", snapshot: "before" });
    expect(payload).toMatchObject({ execution_mode: "offline_disk", snapshot: "before", artifact_type: "directory" });
    expect(readFileSync(path.join(whole, "app.py"), "utf8")).toBe("print(1)\n");
    expect(leftovers().staging).toEqual([]);
    expect(leftovers().temp).toEqual([]);
  });

  it("disk: the hostile tree gets the same refusals as a live export, and nothing is written", async () => {
    const o = (name: string) => path.join(out, name);
    await fails(["export", id, "chain", "--output", o("chain")], "UNSAFE_ARCHIVE", /"chain\/x\/up2" -> "up\/\.\." climbs out/);
    await fails(["export", id, "abs", "--output", o("abs")], "UNSAFE_ARCHIVE", /"abs\/host".*absolute/);
    await fails(["export", id, "abs/host", "--output", o("l")], "UNSAFE_ARCHIVE", /exported path itself/);
    await fails(["export", id, "fifo", "--output", o("fifo")], "UNSAFE_ARCHIVE", /"fifo\/p" is a FIFO/);
    await fails(["export", id, "dev", "--output", o("dev")], "UNSAFE_ARCHIVE", /"dev\/null2" is a character device/);
    await fails(["export", id, "deep", "--output", o("deep")], "PATH_TOO_LONG", /4095-byte/);
    await fails(["export", id, "latin", "--output", o("latin")], "NAME_NOT_UTF8", /not valid UTF-8/);
    await fails(["export", id, "no/such", "--output", o("missing")], "EXPORT_PATH_NOT_FOUND", /does not exist/);
    // The whole tree holds all of the above: refused before any file data is read.
    await fails(["export", id, "--output", o("all")], "NAME_NOT_UTF8", /latin/);
    expect(readFileSync("/etc/hostname", "utf8")).toBeTruthy();
  });

  it("disk: a damaged disk gives DISK_UNREADABLE quickly; its snapshots still read", async () => {
    const image = path.join(stateDir(), "workspaces", id, "workspace.qcow2");
    execFileSync("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 0 8M", image], { stdio: "ignore" });
    const started = Date.now();
    await fails(["list", id], "DISK_UNREADABLE", /./);
    expect(Date.now() - started).toBeLessThan(20_000);
    const before = await disk("read", id, "notes.txt", "--snapshot", "before");
    expect(parseJson<{ content: string }>(before.stdout).content).toBe("hello\n");
    // Reset to the snapshot recovers the workspace.
    expect((await pyro(["workspace", "reset", id, "--snapshot", "before"])).status).toBe(0);
    expect((await wsExec(id, "cat notes.txt")).stdout).toBe("hello\n");
  });
});
