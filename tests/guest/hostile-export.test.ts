import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkspaceManager } from "../../src/core/manager.js";
import { parseJson, pyro } from "../support/cli.js";
import { CLI } from "../support/paths.js";
import { craftTar, type CraftEntry } from "../support/tar-craft.js";
import {
  createWorkspace,
  seedDirectory,
  stateDir,
  wsExec,
  type Record_,
} from "../support/workspace.js";

/**
 * A hostile guest and hostile archives against export, seed and sync push, through the built CLI
 * and one real debian:12 workspace (seeded from a GNU sparse archive). Every refusal must carry
 * its own code, and leave nothing at --output, nothing outside it, and no staging behind.
 */
let ws: Record_;
const out = mkdtempSync(path.join(os.tmpdir(), "pyro-hostile-out-"));
const sparseSource = mkdtempSync(path.join(os.tmpdir(), "pyro-sparse-"));
const SPARSE_SIZE = 32 * 1024 * 1024 + 4;

interface Failure {
  error: { code: string; message: string; hint?: string };
}

async function exportFails(guestPath: string, output: string, code: string, message: RegExp) {
  const before = hostSnapshot();
  const result = await pyro(["workspace", "export", ws.workspace_id, guestPath, "--output", output, "--json"]);
  expect(result.status, result.stdout + result.stderr).toBe(1);
  const failure = parseJson<Failure>(result.stdout).error;
  expect(failure).toMatchObject({ code, message: expect.stringMatching(message) });
  expect(failure.hint).toBeTruthy();
  expect(existsSync(output)).toBe(false);
  expect(hostSnapshot()).toEqual(before);
  return failure;
}

/** What a hostile export could touch: the output folder, and pyro's staging area. */
function hostSnapshot(): { out: string[]; staging: string[] } {
  const staging = path.join(stateDir(), "staging");
  return {
    out: readdirSync(out).sort(),
    staging: existsSync(staging) ? readdirSync(staging) : [],
  };
}

/** Shadow the guest's tar with a script that sends `archive` instead (a compromised guest). */
async function guestSends(archive: Buffer, tail = ""): Promise<void> {
  const result = await wsExec(
    ws.workspace_id,
    `echo ${archive.toString("base64")} | base64 -d > /root/evil.tar; printf '#!/bin/sh\\ncat /root/evil.tar\\n${tail}' > /usr/local/bin/tar; chmod +x /usr/local/bin/tar; hash -r`,
  );
  expect(result.status).toBe(0);
}

const restoreTar = () => wsExec(ws.workspace_id, "rm -f /usr/local/bin/tar");

beforeAll(async () => {
  const big = path.join(sparseSource, "big");
  execFileSync("sh", ["-c", `printf head > "${big}" && truncate -s 32M "${big}" && printf tail >> "${big}"`]);
  const tgz = path.join(out, "sparse.tgz");
  execFileSync("tar", ["--sparse", "-czf", tgz, "-C", sparseSource, "big"]);
  ws = await createWorkspace(["--seed-path", tgz]);
  await wsExec(
    ws.workspace_id,
    [
      "cp /bin/dash suid && chmod 4755 suid",
      "mkdir -p modes/sticky && chmod 6755 modes && chmod 1777 modes/sticky && cp /bin/dash modes/sgid && chmod 2755 modes/sgid",
      "mkdir -p chain/x && ln -s .. chain/x/up && ln -s up/.. chain/x/up2",
      "mkdir -p a/b/c && ln -s ../../../etc/hostname a/b/c/l",
      "mkdir -p abs && echo ok > abs/f && ln -s /etc/hostname abs/host",
      "mkdir -p fifo && mkfifo fifo/p",
      "mkdir -p dev && mknod dev/null2 c 1 3",
      "mkdir -p latin && touch \"latin/$(printf 'caf\\351')\"",
      "mkdir -p hard && echo same > hard/one && ln hard/one hard/two && ln -s one hard/soft",
      "(mkdir deep && cd deep && for i in $(seq 1 18); do n=$(printf '%0250d' $i); mkdir $n && cd $n; done && touch f)",
    ].join(" && "),
  );
});

afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", ws.workspace_id]);
});

describe("seed and sync push of archives through the CLI", () => {
  it("a GNU sparse archive seeds the workspace at full size, with true counts", async () => {
    expect(ws.workspace_seed).toMatchObject({ mode: "tar_archive", entry_count: 1, bytes_written: SPARSE_SIZE });
    const inGuest = await wsExec(ws.workspace_id, "stat -c %s big; head -c 4 big; tail -c 4 big");
    expect(inGuest.stdout).toBe(`${SPARSE_SIZE}\nheadtail`);
  });

  it("--seed-path \"\" is refused instead of seeding from the current directory", async () => {
    const result = await pyro(["workspace", "create", "debian:12", "--seed-path", "", "--json"]);
    expect(result.status).toBe(1);
    expect(parseJson<Failure>(result.stdout).error).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/seed path is empty/) });
  });

  it("an empty seed or sync source is refused through the SDK as well (the check is in core)", async () => {
    const manager = new WorkspaceManager();
    await expect(manager.createWorkspace({ environment: "debian:12", seedPath: "" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(manager.pushWorkspaceSync(ws.workspace_id, "")).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/source path is empty/),
    });
  });

  it("a hostile seed archive is refused and leaves no workspace behind", async () => {
    const bad = path.join(out, "seed-chain.tar");
    writeFileSync(bad, craftTar([{ name: "ok.txt", content: "fine" }, { name: "x/up", type: "symlink", linkname: ".." }, { name: "x/up2", type: "symlink", linkname: "up/.." }]));
    const before = readdirSync(path.join(stateDir(), "workspaces")).sort();
    const result = await pyro(["workspace", "create", "debian:12", "--seed-path", bad, "--json"]);
    expect(result.status).toBe(1);
    expect(parseJson<Failure>(result.stdout).error).toMatchObject({ code: "UNSAFE_ARCHIVE", message: expect.stringMatching(/"x\/up2".*climbs out/) });
    expect(readdirSync(path.join(stateDir(), "workspaces")).sort()).toEqual(before);
  });

  const hostile: [string, Buffer, string][] = [
    ["absolute member after a good one", craftTar([{ name: "good.txt", content: "g" }, { name: "/etc/evil", content: "x" }]), "UNSAFE_ARCHIVE"],
    ["directory replaced by a link out", craftTar([{ name: "good.txt", content: "g" }, { name: "d/", type: "dir" }, { name: "d", type: "symlink", linkname: "/etc" }, { name: "d/cron", content: "x" }]), "UNSAFE_ARCHIVE"],
    ["device node", craftTar([{ name: "good.txt", content: "g" }, { name: "null2", type: "chardev" }]), "UNSAFE_ARCHIVE"],
    ["hard link to a missing file", craftTar([{ name: "good.txt", content: "g" }, { name: "h", type: "hardlink", linkname: "gone" }]), "ARCHIVE_CORRUPT"],
    ["truncated archive", craftTar([{ name: "good.txt", content: "g" }, { name: "b.txt", content: "b".repeat(3000) }]).subarray(0, 1024 + 700), "ARCHIVE_CORRUPT"],
    ["non-UTF-8 name", craftTar([{ name: "good.txt", content: "g" }, { name: Buffer.from("caf\xe9", "latin1"), content: "x" }]), "NAME_NOT_UTF8"],
  ];
  it("sync push refuses hostile archives before anything reaches the guest", async () => {
    for (const [what, data, code] of hostile) {
      const file = path.join(out, `push-${what.replace(/\W+/g, "-")}.tar`);
      writeFileSync(file, data);
      const result = await pyro(["workspace", "sync", "push", ws.workspace_id, file, "--dest", "pushed", "--json"]);
      expect(result.status, what).toBe(1);
      expect(parseJson<Failure>(result.stdout).error.code, what).toBe(code);
    }
    // Every archive began with good.txt: none of it was half-applied.
    expect((await wsExec(ws.workspace_id, "test -e pushed && echo present || echo absent")).stdout).toBe("absent\n");
    expect(hostSnapshot().staging).toEqual([]);
  });

  it("sync push of a sparse archive reports the true entry count and bytes", async () => {
    const tgz = path.join(out, "sparse.tgz");
    const result = await pyro(["workspace", "sync", "push", ws.workspace_id, tgz, "--dest", "sp", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    expect(parseJson<{ workspace_sync: { entry_count: number; bytes_written: number } }>(result.stdout).workspace_sync).toMatchObject({ entry_count: 1, bytes_written: SPARSE_SIZE });
    expect((await wsExec(ws.workspace_id, "stat -c %s sp/big")).stdout).toBe(`${SPARSE_SIZE}\n`);
  });

  it("sync push of a directory with a link chain leading out is refused", async () => {
    const dir = seedDirectory({ "x/f": "f" });
    execFileSync("ln", ["-s", "..", path.join(dir, "x", "up")]);
    execFileSync("ln", ["-s", "up/..", path.join(dir, "x", "up2")]);
    const result = await pyro(["workspace", "sync", "push", ws.workspace_id, dir, "--dest", "chained", "--json"]);
    expect(parseJson<Failure>(result.stdout).error).toMatchObject({ code: "UNSAFE_ARCHIVE", message: expect.stringMatching(/x\/up2/) });
  });
});

describe("export from a hostile guest", () => {
  it("a setuid binary arrives without setuid, and directories lose setgid and sticky bits", async () => {
    const file = path.join(out, "suid");
    expect((await pyro(["workspace", "export", ws.workspace_id, "suid", "--output", file])).status).toBe(0);
    expect(statSync(file).mode & 0o7777).toBe(0o755);
    const dir = path.join(out, "modes");
    expect((await pyro(["workspace", "export", ws.workspace_id, "modes", "--output", dir])).status).toBe(0);
    expect(statSync(dir).mode & 0o7000).toBe(0);
    expect(statSync(path.join(dir, "sticky")).mode & 0o7777).toBe(0o777);
    expect(statSync(path.join(dir, "sgid")).mode & 0o7777).toBe(0o755);
  });

  it("link chains, deep relative links, lone links and absolute links are refused by name", async () => {
    await exportFails("chain", path.join(out, "chain"), "UNSAFE_ARCHIVE", /"chain\/x\/up2" -> "up\/\.\." climbs out/);
    await exportFails("chain/x", path.join(out, "chain-x"), "UNSAFE_ARCHIVE", /"chain\/x\/up2?"/);
    await exportFails("a", path.join(out, "a"), "UNSAFE_ARCHIVE", /"a\/b\/c\/l".*climbs out/);
    await exportFails("a/b/c/l", path.join(out, "l"), "UNSAFE_ARCHIVE", /exported path itself/);
    await exportFails("abs", path.join(out, "abs"), "UNSAFE_ARCHIVE", /"abs\/host".*absolute/);
    expect(readFileSync("/etc/hostname", "utf8")).toBeTruthy();
  });

  it("FIFOs and device nodes are refused", async () => {
    await exportFails("fifo", path.join(out, "fifo"), "UNSAFE_ARCHIVE", /"fifo\/p" is a FIFO/);
    await exportFails("dev", path.join(out, "dev"), "UNSAFE_ARCHIVE", /"dev\/null2" is a character device/);
  });

  it("hard links and symlinks inside the export are kept", async () => {
    const dir = path.join(out, "hard");
    const result = await pyro(["workspace", "export", ws.workspace_id, "hard", "--output", dir, "--json"]);
    expect(result.status, result.stdout).toBe(0);
    expect(statSync(path.join(dir, "one")).ino).toBe(statSync(path.join(dir, "two")).ino);
    expect(lstatSync(path.join(dir, "soft")).isSymbolicLink()).toBe(true);
  });

  it("ordinary failures get their own codes, not INTERNAL", async () => {
    await exportFails("no/such/file", path.join(out, "missing"), "EXPORT_PATH_NOT_FOUND", /does not exist/);
    await exportFails("n".repeat(300), path.join(out, "long"), "PATH_TOO_LONG", /255-byte/);
    await exportFails("deep", path.join(out, "deep"), "PATH_TOO_LONG", /4095-byte/);
    await exportFails("latin", path.join(out, "latin"), "NAME_NOT_UTF8", /not valid UTF-8/);
    const proc = await pyro(["workspace", "export", ws.workspace_id, "suid", "--output", "/proc/self/x", "--json"]);
    expect(parseJson<Failure>(proc.stdout).error.code).toBe("OUTPUT_NOT_WRITABLE");
  });

  it("a guest that sends a hard link to a missing file, a truncated or a sparse-escape archive is refused", async () => {
    try {
      await guestSends(craftTar([{ name: "hard/", type: "dir" }, { name: "hard/h", type: "hardlink", linkname: "hard/gone" }]));
      await exportFails("hard", path.join(out, "h"), "ARCHIVE_CORRUPT", /not earlier/);
      await guestSends(craftTar([{ name: "suid", content: "x".repeat(4000) }]).subarray(0, 1500));
      await exportFails("suid", path.join(out, "t"), "ARCHIVE_CORRUPT", /ends early/);
      await guestSends(craftTar([{ name: "/tmp/x", type: "sparse", content: "abc", sparse: { realSize: 3, chunks: [{ offset: 0, length: 3 }] } }]));
      await exportFails("suid", path.join(out, "s"), "UNSAFE_ARCHIVE", /absolute/);
      expect(existsSync("/tmp/x")).toBe(false);
      await guestSends(craftTar([{ name: "suid", content: "x" }, { name: "suid/../../../escaped", content: "x" }] as CraftEntry[]));
      await exportFails("suid", path.join(out, "e"), "UNSAFE_ARCHIVE", /climbs out/);
    } finally {
      await restoreTar();
    }
  });

  it("a killed export leaves nothing at --output, and its staging is swept by the next export", async () => {
    try {
      // The guest sends the start of a large file, then stalls: the CLI is killed mid-stream.
      const head = craftTar([{ name: "suid", content: "z".repeat(1 << 20) }]).subarray(0, 512);
      await guestSends(head, "head -c 300000 /dev/zero\\nsleep 60\\n");
      const output = path.join(out, "killed");
      const child = spawn(process.execPath, [CLI, "workspace", "export", ws.workspace_id, "suid", "--output", output], { stdio: "ignore" });
      const staging = path.join(stateDir(), "staging");
      for (let i = 0; i < 200 && !(existsSync(staging) && readdirSync(staging).length > 0); i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("close", resolve));
      expect(existsSync(output)).toBe(false);
      expect(readdirSync(out).filter((n) => n.startsWith(".pyro-export-"))).toEqual([]);
      expect(readdirSync(staging).length).toBe(1);
    } finally {
      await restoreTar();
    }
    const next = path.join(out, "after-kill");
    expect((await pyro(["workspace", "export", ws.workspace_id, "hard/one", "--output", next])).status).toBe(0);
    expect(readdirSync(path.join(stateDir(), "staging"))).toEqual([]);
  });

  it("diff lists setuid files, FIFOs, device nodes and non-UTF-8 names without failing", async () => {
    const result = await pyro(["workspace", "diff", ws.workspace_id, "--json"]);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const paths = parseJson<{ entries: { path: string }[] }>(result.stdout).entries.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["suid", "fifo/p", "dev/null2", "chain/x/up2"]));
    expect(paths.filter((p) => p.startsWith("latin/"))).toHaveLength(1);
  });

  it("an export across filesystems lands complete, with no temporary name left", async () => {
    if (statSync("/dev/shm").dev === statSync(stateDir()).dev) return;
    const target = mkdtempSync("/dev/shm/pyro-xfs-");
    try {
      const output = path.join(target, "hard");
      expect((await pyro(["workspace", "export", ws.workspace_id, "hard", "--output", output])).status).toBe(0);
      expect(readFileSync(path.join(output, "two"), "utf8")).toBe("same\n");
      expect(readdirSync(target)).toEqual(["hard"]);
    } finally {
      execFileSync("rm", ["-rf", target]);
    }
  });
});
