import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { c as tarCreate } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePaths } from "../../src/core/paths.js";
import { localDir, localRoot } from "../../src/environments/local.js";
import { Pyro } from "../../src/index.js";
import { command, parseJson, pyro } from "../support/cli.js";
import { startAuthProxy, startRegistry, type TestRegistry, writeOciLayout } from "../support/oci-image.js";
import { craftTar, type CraftEntry } from "../support/tar-craft.js";
import { mcpClient } from "../support/mcp.js";

/**
 * Environments from OCI images and derived builds, end to end: images written here byte by byte,
 * pushed with skopeo to Debian's docker-registry on a loopback port, pulled, booted, built on,
 * created from, snapshotted and reset through the CLI, SDK and MCP. Hostile and corrupt images
 * must be refused with nothing written on the host outside pyro's own work directory.
 */
interface EnvJson {
  name: string;
  installed: boolean;
  source: string;
  digest: string | null;
  size_bytes: number | null;
  image_env: string[];
  working_dir: string | null;
  pulled?: boolean;
  built?: boolean;
  provenance: Record<string, unknown> | null;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "pyro-oci-"));
const hostTarget = path.join(tmp, "host-target");
const names: string[] = [];
let registry: TestRegistry;

const busybox = readFileSync("/bin/busybox");
const bbBase: CraftEntry[] = [
  { name: "bin/", type: "dir" },
  { name: "bin/busybox", content: busybox, mode: 0o755 },
  { name: "bin/sh", type: "symlink", linkname: "busybox" },
  { name: "etc/", type: "dir" },
];

async function push(repository: string, layers: Buffer[], extra: { env?: string[]; workingDir?: string; uncompressed?: boolean } = {}): Promise<{ ref: string; layers: string[] }> {
  const layout = path.join(tmp, "layouts", repository.replace(/[/:]/g, "_"));
  mkdirSync(layout, { recursive: true });
  const digests = await writeOciLayout(layout, { layers, ...extra });
  await registry.push(layout, repository);
  const ref = `${registry.host}/${repository}`;
  names.push(ref);
  return { ref, layers: digests };
}

const leftovers = (): string[] =>
  readdirSync(localRoot(resolvePaths()), { withFileTypes: true })
    .map((d) => d.name)
    .filter((name) => name.startsWith(".build-") || name.includes(".trash-"));

async function refused(ref: string, code: string): Promise<string> {
  const result = await pyro(["env", "pull", ref, "--json"]);
  expect(result.status, result.stderr).toBe(1);
  const error = parseJson<{ error: { code: string; message: string } }>(result.stdout).error;
  expect(error.code, error.message).toBe(code);
  expect(existsSync(localDir(resolvePaths(), ref)), ref).toBe(false);
  const inspect = await pyro(["env", "inspect", ref, "--json"]);
  expect(parseJson<{ error: { code: string } }>(inspect.stdout).error.code).toBe("UNKNOWN_ENVIRONMENT");
  return error.message;
}

beforeAll(async () => {
  mkdirSync(hostTarget);
  registry = await startRegistry(path.join(tmp, "registry"));
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  for (const name of names) rmSync(localDir(resolvePaths(), name), { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

describe("environments from OCI images", () => {
  let bb = "";
  let deb = "";

  it("oci: a busybox-only image pulls with layers applied (whiteouts, opaque dirs, hard links, modes, owners) and its Env/WorkingDir are command defaults", async () => {
    const layer1 = craftTar([
      ...bbBase,
      { name: "app/", type: "dir" },
      { name: "app/tool", content: "#!/bin/sh\necho tool-ran\n", mode: 0o4755 },
      { name: "app/tool-link", type: "hardlink", linkname: "app/tool" },
      { name: "app/gone", content: "removed by the next layer" },
      { name: "data/", type: "dir" },
      { name: "data/old", content: "hidden by an opaque dir" },
      { name: "home/", type: "dir" },
      { name: "home/dev/", type: "dir", uid: 1000, gid: 1000, mode: 0o750 },
    ]);
    const layer2 = craftTar([
      { name: "app/.wh.gone", content: "" },
      { name: "data/", type: "dir" },
      { name: "data/.wh..wh..opq", content: "" },
      { name: "data/new", content: "new" },
    ]);
    const image = await push("bb:1", [layer1, layer2], {
      env: ["PATH=/bin:/app", "GREETING=from-image"],
      workingDir: "/app",
    });
    bb = image.ref;
    const result = await pyro(["env", "pull", bb]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/phase=download .*phase=verify .*phase=unpack/s);
    expect(result.stdout).toMatch(/^Source: oci$/m);

    const list = parseJson<{ environments: EnvJson[] }>((await pyro(["env", "list", "--json"])).stdout);
    const listed = list.environments.find((e) => e.name === bb);
    expect(listed).toMatchObject({ installed: true, source: "oci", digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
    expect(listed?.size_bytes).toBeGreaterThan(0);
    const inspect = parseJson<EnvJson>((await pyro(["env", "inspect", bb, "--json"])).stdout);
    expect(inspect.working_dir).toBe("/app");
    expect(inspect.image_env).toEqual(["PATH=/bin:/app", "GREETING=from-image"]);
    expect(inspect.provenance).toMatchObject({ kind: "oci", layers: image.layers });

    const run = await pyro([
      "run",
      bb,
      "--json",
      "--",
      "sh",
      "-c",
      'pwd; echo $GREETING; tool; ls /app; ls /data; stat -c "%a %u %h" /app/tool; stat -c "%u:%g %a" /home/dev',
    ]);
    const out = parseJson<{ exit_code: number; stdout: string; stderr: string }>(run.stdout);
    expect(out.exit_code, out.stderr).toBe(0);
    expect(out.stdout).toBe(
      ["/app", "from-image", "tool-ran", "tool", "tool-link", "new", "4755 0 2", "1000:1000 750", ""].join("\n"),
    );
  }, 240_000);

  it("oci: live snapshots of a busybox-only workspace (no GNU df, no util-linux): snapshot create, break, reset --snapshot, the file is back", async () => {
    const ok = async (args: string[], tail: string[] = []) => {
      const result = await pyro([...args, "--json", ...tail]);
      expect(result.status, `${args.join(" ")}: ${result.stdout}${result.stderr}`).toBe(0);
      return parseJson<Record<string, unknown>>(result.stdout);
    };
    const sh = async (id: string, script: string) => {
      const out = await ok(["workspace", "exec", id], ["--", "sh", "-c", script]);
      expect(out.exit_code, String(out.stderr)).toBe(0);
      return String(out.stdout);
    };
    const id = String((await ok(["workspace", "create", bb])).workspace_id);
    try {
      // The image is /bin/busybox and /bin/sh only: busybox's df has no --output (what the old
      // path ran) and nothing else of GNU coreutils or util-linux is there.
      const probe = "df -B1 --output=used,iused /workspace >/dev/null 2>&1 || echo no-gnu-df; echo kept > /workspace/f";
      expect(await sh(id, probe)).toBe("no-gnu-df\n");
      const created = await ok(["workspace", "snapshot", "create", id, "s1"]);
      // The usage comes from the agent's statvfs: the one file written is counted.
      expect(created.snapshot).toMatchObject({ snapshot_name: "s1", entry_count: 1 });
      const full = await ok(["workspace", "snapshot", "create", id, "f1", "--kind", "full"]);
      expect(full.snapshot).toMatchObject({ snapshot_name: "f1", snapshot_kind: "full" });
      await sh(id, "rm /workspace/f; echo junk > /workspace/g");
      await ok(["workspace", "reset", id, "--snapshot", "s1"]);
      expect(await sh(id, "ls /workspace; cat /workspace/f")).toBe("f\nkept\n");
    } finally {
      await pyro(["workspace", "delete", id]);
    }
  }, 180_000);

  it("oci: registry credentials from --username/--password-stdin or the Docker config; plain HTTP only for loopback or --insecure", async () => {
    const proxy = await startAuthProxy(registry.host, "agent", "s3cret");
    try {
      const ref = `127.0.0.1:${proxy.port}/bb:1`;
      names.push(ref);
      const anonymous = await pyro(["env", "pull", ref, "--json"]);
      const error = parseJson<{ error: { code: string; hint: string } }>(anonymous.stdout).error;
      expect(error).toMatchObject({ code: "IMAGE_PULL_FAILED", hint: expect.stringContaining("--password-stdin") });
      const wrong = await pyro(["env", "pull", ref, "--username", "agent", "--password-stdin"], { input: "nope\n" });
      expect(wrong.status).toBe(1);
      const right = await pyro(["env", "pull", ref, "--username", "agent", "--password-stdin", "--json"], { input: "s3cret\n" });
      expect(right.status, right.stderr).toBe(0);
      expect(parseJson<EnvJson>(right.stdout)).toMatchObject({ pulled: true, working_dir: "/app" });
      rmSync(localDir(resolvePaths(), ref), { recursive: true, force: true });

      const dockerConfig = path.join(tmp, "docker-config");
      mkdirSync(dockerConfig);
      const auth = Buffer.from("agent:s3cret").toString("base64");
      writeFileSync(path.join(dockerConfig, "config.json"), JSON.stringify({ auths: { [`127.0.0.1:${proxy.port}`]: { auth } } }));
      const fromConfig = await pyro(["env", "pull", ref, "--json"], { env: { DOCKER_CONFIG: dockerConfig } });
      expect(fromConfig.status, fromConfig.stdout).toBe(0);
    } finally {
      await proxy.stop();
    }

    // A registry that is not on loopback gets HTTPS unless --insecure says otherwise.
    const lan = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (lan) {
      const open = await startAuthProxy(registry.host, "agent", "s3cret", lan);
      try {
        const ref = `${lan}:${open.port}/bb:1`;
        names.push(ref);
        const https = await pyro(["env", "pull", ref, "--username", "agent", "--password-stdin", "--json"], { input: "s3cret" });
        expect(parseJson<{ error: { hint: string } }>(https.stdout).error.hint).toContain("--insecure");
        const insecure = await pyro(["env", "pull", ref, "--insecure", "--username", "agent", "--password-stdin", "--json"], { input: "s3cret" });
        expect(insecure.status, insecure.stdout).toBe(0);
      } finally {
        await open.stop();
      }
    }
  }, 180_000);

  it("oci: a Debian root image keeps owners, setuid bits and dynamic binaries", async () => {
    const rootfs = path.join(resolvePaths().cacheDir, "environments", "debian_12", "rootfs.ext4");
    const tree = path.join(tmp, "debian-root");
    mkdirSync(tree);
    // A slice of debian:12 (no docs, no apt lists) keeps the layer small enough for the suite.
    for (const dir of ["/etc", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64"]) {
      const into = path.join(tree, path.dirname(dir));
      mkdirSync(into, { recursive: true });
      const dumped = await command("debugfs", ["-R", `rdump ${dir} ${into}`, rootfs]);
      expect(dumped.status).toBe(0);
    }
    for (const link of ["bin", "sbin", "lib", "lib64"]) symlinkSync(`usr/${link}`, path.join(tree, link));
    // debugfs rdump chowns after chmod, which drops setuid bits: put passwd's back as Debian ships it.
    chmodSync(path.join(tree, "usr/bin/passwd"), 0o4755);
    const tarFile = path.join(tmp, "debian.tar");
    await tarCreate({ cwd: tree, file: tarFile, portable: false, preservePaths: false }, ["."]);
    const image = await push("debian-slice:12", [readFileSync(tarFile)], { uncompressed: true });
    rmSync(tree, { recursive: true, force: true });
    rmSync(tarFile, { force: true });

    deb = image.ref;
    const pulled = await pyro(["env", "pull", image.ref, "--json"]);
    expect(pulled.status, pulled.stderr).toBe(0);
    const run = await pyro([
      "run",
      image.ref,
      "--json",
      "--",
      "bash",
      "-c",
      'stat -c "%U:%G %a" /etc/shadow /usr/bin/passwd; git --version | cut -d. -f1-2; echo $BASH_VERSION | cut -d. -f1',
    ]);
    const out = parseJson<{ exit_code: number; stdout: string; stderr: string }>(run.stdout);
    expect(out.exit_code, out.stderr).toBe(0);
    expect(out.stdout).toBe("root:shadow 640\nroot:root 4755\ngit version 2.39\n5\n");
  }, 300_000);

  it("oci: hostile layers (.., absolute paths, hard links out, devices) are refused; symlink-then-file is contained", async () => {
    const marker = path.join(hostTarget, "pwned");
    const cases: [string, CraftEntry[]][] = [
      ["dotdot", [...bbBase, { name: `../../../../../../..${marker}`, content: "x" }]],
      ["absolute", [...bbBase, { name: marker, content: "x" }]],
      ["hardlink-out", [...bbBase, { name: "etc/shadow-copy", type: "hardlink", linkname: "/etc/shadow" }]],
      ["hardlink-dotdot", [...bbBase, { name: "etc/h", type: "hardlink", linkname: "../../../../etc/hostname" }]],
      ["device", [...bbBase, { name: "etc/kmem", type: "chardev", mode: 0o666 }]],
    ];
    for (const [repo, entries] of cases) {
      const { ref } = await push(`hostile-${repo}:1`, [craftTar(entries)]);
      const message = await refused(ref, "IMAGE_UNSAFE");
      expect(message).toMatch(/outside|device/);
    }

    // A symlink to a host directory, then a file "through" it in the next layer: umoci resolves
    // it inside the image root, and the sandbox uid could not write there anyway.
    const { ref } = await push("hostile-symlink:1", [
      craftTar([...bbBase, { name: "escape", type: "symlink", linkname: hostTarget }]),
      craftTar([{ name: "escape/pwned", content: "inside the image" }]),
    ]);
    const result = await pyro(["env", "pull", ref, "--json"]);
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(hostTarget)).toEqual([]);
    if (result.status === 0) {
      const image = path.join(localDir(resolvePaths(), ref), "rootfs.ext4");
      const cat = await command("debugfs", ["-R", `cat ${hostTarget}/pwned`, image]);
      expect(cat.stdout).toBe("inside the image");
    } else {
      expect(parseJson<{ error: { code: string } }>(result.stdout).error.code).toMatch(/^IMAGE_/);
    }
    expect(leftovers()).toEqual([]);
  }, 240_000);

  it("oci: a corrupt or truncated layer fails the pull and leaves nothing", async () => {
    for (const damage of ["corrupt", "truncated"] as const) {
      const { ref, layers } = await push(`${damage}:1`, [craftTar([...bbBase, { name: "etc/big", content: Buffer.alloc(200_000, 7) }])]);
      const data = registry.blobData(layers[0] as string);
      if (damage === "corrupt") {
        const bytes = readFileSync(data);
        const middle = bytes.length >> 1;
        bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
        writeFileSync(data, bytes);
      } else {
        truncateSync(data, 1000);
      }
      await refused(ref, "IMAGE_PULL_FAILED");
    }
    expect(leftovers()).toEqual([]);
  }, 120_000);

  it("build: a derived environment keeps its files after create and reset; same inputs reuse; a failing step saves nothing", async () => {
    const copied = path.join(tmp, "setup.txt");
    writeFileSync(copied, "copied-in\n");
    const name = `oci-test-derived:${process.pid}`;
    names.push(name);
    const step = "mkdir -p /opt/tool && echo built > /opt/tool/marker";
    const args = ["env", "build", name, "--from", deb, "--copy", `${copied}:/opt/setup.txt`, "--run", step, "--json"];
    const first = await pyro(args);
    expect(first.status, first.stderr).toBe(0);
    const built = parseJson<EnvJson>(first.stdout);
    expect(built).toMatchObject({ built: true, source: "build", working_dir: null });
    expect(built.provenance).toMatchObject({ kind: "build", base: deb, steps: [step], network: false });
    const again = parseJson<EnvJson>((await pyro(args)).stdout);
    expect(again).toMatchObject({ built: false, digest: built.digest });

    const sdk = new Pyro();
    const failed = sdk.buildEnvironment(`oci-test-broken:${process.pid}`, { from: bb, steps: ["echo ok", "echo step-output; exit 3"] });
    await expect(failed).rejects.toMatchObject({ code: "ENVIRONMENT_BUILD_STEP_FAILED", message: expect.stringContaining("step-output") });
    expect(existsSync(localDir(resolvePaths(), `oci-test-broken:${process.pid}`))).toBe(false);
    expect(leftovers()).toEqual([]);

    const ws = await sdk.createWorkspace({ environment: name });
    try {
      const check = "cat /opt/tool/marker /opt/setup.txt; ls /workspace";
      const before = await sdk.execWorkspace(ws.workspace_id, { command: `echo kept > /workspace/f; echo junk > /opt/tool/junk; ${check}` });
      expect(before.stdout).toBe("built\ncopied-in\nf\n");
      await sdk.createSnapshot(ws.workspace_id, "s1");
      await sdk.resetWorkspace(ws.workspace_id, { snapshot: "s1" });
      const after = await sdk.execWorkspace(ws.workspace_id, { command: `ls /opt/tool; ${check}` });
      expect(after.stdout).toBe("marker\nbuilt\ncopied-in\nf\n");
    } finally {
      await sdk.deleteWorkspace(ws.workspace_id);
    }
  }, 300_000);

  it("mcp: vm_pull_environment, vm_inspect_environment and vm_build_environment over stdio", async () => {
    const client = await mcpClient("pyro-test");
    try {
      const pulled = await client.callTool({ name: "vm_pull_environment", arguments: { environment: bb } });
      expect(pulled.isError).toBeFalsy();
      expect(pulled.structuredContent).toMatchObject({ pulled: false, source: "oci" });
      const inspected = await client.callTool({ name: "vm_inspect_environment", arguments: { environment: bb } });
      expect(inspected.structuredContent).toMatchObject({ working_dir: "/app" });
      const bad = await client.callTool({ name: "vm_pull_environment", arguments: { environment: "Not A Ref!" } });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toContain("IMAGE_REFERENCE_INVALID");
      const badBuild = await client.callTool({ name: "vm_build_environment", arguments: { name: "debian:12", from: bb, steps: ["true"] } });
      expect(badBuild.isError).toBe(true);
      expect(JSON.stringify(badBuild.content)).toContain("ENVIRONMENT_EXISTS");
    } finally {
      await client.close();
    }
  }, 120_000);
});
