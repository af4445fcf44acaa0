import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectEnvironment, pruneEnvironments } from "../../src/core/environments.js";
import { localDir, localRoot } from "../../src/environments/local.js";
import { blobPath, readLayout, scanLayers } from "../../src/environments/oci/layer-scan.js";
import { parseImageReference } from "../../src/environments/oci/reference.js";
import { runInSandbox, SANDBOX_UID } from "../../src/environments/oci/sandbox.js";
import { writeOciLayout } from "../support/oci-image.js";
import { craftTar, type CraftEntry } from "../support/tar-craft.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "pyro-oci-unit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("image references", () => {
  it("oci: references parse as Docker does (Docker Hub default, registries, tags, digests, loopback)", () => {
    expect(parseImageReference("alpine")).toMatchObject({
      canonical: "docker.io/library/alpine:latest",
      loopback: false,
    });
    expect(parseImageReference("acme/tool:2")).toMatchObject({
      canonical: "docker.io/acme/tool:2",
    });
    expect(parseImageReference("ghcr.io/acme/dev:2")).toMatchObject({
      registry: "ghcr.io",
      repository: "acme/dev",
      tag: "2",
    });
    expect(parseImageReference("127.0.0.1:5000/bb:1")).toMatchObject({
      registry: "127.0.0.1:5000",
      loopback: true,
    });
    expect(parseImageReference("localhost/x")).toMatchObject({
      registry: "localhost",
      loopback: true,
    });
    const digest = `sha256:${"a".repeat(64)}`;
    expect(parseImageReference(`reg.example:443/a/b@${digest}`)).toMatchObject({
      tag: null,
      digest,
      loopback: false,
    });
    for (const bad of ["", "UPPER/case", "a b", "x@sha256:12", "x:bad/tag", "a//b"]) {
      expect(() => parseImageReference(bad), bad).toThrow(
        expect.objectContaining({ code: "IMAGE_REFERENCE_INVALID" }),
      );
    }
  });
});

async function layoutWith(name: string, entries: CraftEntry[]): Promise<string> {
  const dir = path.join(tmp, name);
  mkdirSync(dir);
  await writeOciLayout(dir, {
    layers: [craftTar(entries)],
    env: ["PATH=/bin", "BAD", "A=b\nc"],
    workingDir: "relative",
  });
  return dir;
}

describe("layer checks", () => {
  it("oci: layers with absolute names, .., hard links out or devices are refused naming the member", async () => {
    const cases: [string, CraftEntry[], RegExp][] = [
      ["abs", [{ name: "/etc/passwd", content: "x" }], /"\/etc\/passwd" is outside/],
      ["dotdot", [{ name: "a/../../x", content: "x" }], /outside the image root/],
      [
        "link-abs",
        [{ name: "l", type: "hardlink", linkname: "/etc/shadow" }],
        /hard link to "\/etc\/shadow"/,
      ],
      ["link-up", [{ name: "d/l", type: "hardlink", linkname: "../../etc/shadow" }], /hard link/],
      ["blockdev", [{ name: "sda", type: "blockdev" }], /device node/],
      ["chardev", [{ name: "mem", type: "chardev" }], /device node/],
    ];
    for (const [name, entries, message] of cases) {
      const dir = await layoutWith(name, entries);
      const image = await readLayout(dir);
      await expect(scanLayers(dir, image), name).rejects.toMatchObject({
        code: "IMAGE_UNSAFE",
        message: expect.stringMatching(message),
      });
    }
    const fine = await layoutWith("fine", [
      { name: "./bin/", type: "dir" },
      { name: "./bin/x", content: "x", mode: 0o4755 },
      { name: "./bin/y", type: "hardlink", linkname: "./bin/x" },
      { name: "./bin/z", type: "symlink", linkname: "/etc/shadow" },
      { name: "./fifo", type: "fifo" },
    ]);
    const image = await readLayout(fine);
    await expect(scanLayers(fine, image)).resolves.toBeUndefined();
    // Only well-formed Env entries and an absolute WorkingDir are kept.
    expect(image.env).toEqual(["PATH=/bin"]);
    expect(image.workingDir).toBeNull();
  });

  it("oci: a blob changed on disk after download fails its digest check", async () => {
    const dir = await layoutWith("tampered", [{ name: "f", content: "x" }]);
    const image = await readLayout(dir);
    writeFileSync(blobPath(dir, image.layers[0]!.digest), "not the layer");
    await expect(scanLayers(dir, image)).rejects.toMatchObject({
      code: "IMAGE_PULL_FAILED",
      message: expect.stringMatching(/does not match its digest/),
    });
  });
});

describe("unpack sandbox", () => {
  it("oci: the sandbox is root of its namespace but can neither write nor read host files", async () => {
    // The parent is world-searchable: only permissions, not an unreachable path, stop the sandbox.
    chmodSync(tmp, 0o755);
    const box = path.join(tmp, "box");
    mkdirSync(box, { mode: 0o700 });
    chownSync(box, SANDBOX_UID, SANDBOX_UID);
    const secret = path.join(tmp, "secret");
    writeFileSync(secret, "s", { mode: 0o600 });
    const lines: string[] = [];
    await runInSandbox({
      cwd: box,
      argv: [
        "/bin/sh",
        "-c",
        `id -u; touch owned && chown 5:5 owned && chmod 4755 owned && echo chown-ok
         touch ${tmp}/escaped 2>/dev/null && echo ESCAPED
         cat ${secret} 2>/dev/null && echo READ
         mknod dev c 1 3 2>/dev/null && echo MKNOD
         true`,
      ],
      onLine: (line) => lines.push(line),
    });
    expect(lines).toEqual(["0", "chown-ok"]);
    expect(existsSync(path.join(tmp, "escaped"))).toBe(false);
    expect(readdirSync(box)).toEqual(["owned"]);
    chmodSync(box, 0o755);
    const owned = statSync(path.join(box, "owned"));
    expect([owned.uid, owned.gid, owned.mode & 0o7777]).toEqual([
      SANDBOX_UID + 5,
      SANDBOX_UID + 5,
      0o4755,
    ]);
  });
});

describe("local environments", () => {
  it("oci: env prune removes interrupted pulls and broken local installs, keeps live ones, and list shows the rest", async () => {
    const paths = { cacheDir: path.join(tmp, "cache"), stateDir: path.join(tmp, "state") };
    const root = localRoot(paths);
    const dead = path.join(root, ".build-dead-abc");
    const live = path.join(root, ".build-live-def");
    mkdirSync(dead, { recursive: true });
    mkdirSync(live, { recursive: true });
    writeFileSync(path.join(dead, "owner"), "999999999");
    writeFileSync(path.join(live, "owner"), String(process.pid));
    const broken = localDir(paths, "reg.example/broken:1");
    mkdirSync(broken, { recursive: true });
    writeFileSync(
      path.join(broken, "manifest.json"),
      JSON.stringify({
        schema_version: 1,
        name: "reg.example/broken:1",
        source: { kind: "oci" },
        rootfs_bytes: 1,
      }),
    );
    const pruned = await pruneEnvironments(paths);
    expect(pruned.removed.map((r) => r.name).sort()).toEqual([
      ".build-dead-abc",
      "reg.example/broken:1",
    ]);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(broken)).toBe(false);
    await expect(inspectEnvironment(paths, "reg.example/broken:1")).rejects.toMatchObject({
      code: "UNKNOWN_ENVIRONMENT",
      hint: expect.stringContaining("pyro env pull"),
    });
  });
});
