import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";

/**
 * Test images and a real registry: OCI layouts written by hand (so tests control every layer
 * byte, hostile ones included), pushed with skopeo to Debian's docker-registry on a loopback port.
 */
const run = promisify(execFile);

const sha256 = (data: Buffer | string): string =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

export interface ImageSpec {
  /** Uncompressed tar layers, bottom first. */
  layers: Buffer[];
  env?: string[];
  workingDir?: string;
  /** Store layers uncompressed (big test layers; gzip would dominate the test's time). */
  uncompressed?: boolean;
}

/** Write a one-image OCI layout (gzip layers) with tag "latest"; returns the layer digests. */
export async function writeOciLayout(dir: string, spec: ImageSpec): Promise<string[]> {
  const blobs = path.join(dir, "blobs", "sha256");
  await fs.mkdir(blobs, { recursive: true });
  const put = async (data: Buffer | string) => {
    const digest = sha256(data);
    await fs.writeFile(path.join(blobs, digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layers = [];
  for (const tar of spec.layers) {
    layers.push(
      spec.uncompressed
        ? { mediaType: "application/vnd.oci.image.layer.v1.tar", ...(await put(tar)) }
        : {
            mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
            ...(await put(gzipSync(tar))),
          },
    );
  }
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: {
      Env: spec.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
    },
    rootfs: { type: "layers", diff_ids: spec.layers.map((tar) => sha256(tar)) },
  });
  const configBlob = await put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
    layers,
  });
  const manifestBlob = await put(manifest);
  await fs.writeFile(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await fs.writeFile(
    path.join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifestBlob,
          annotations: { "org.opencontainers.image.ref.name": "latest" },
        },
      ],
    }),
  );
  return layers.map((layer) => layer.digest);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

export interface TestRegistry {
  host: string;
  storage: string;
  push(layout: string, repository: string): Promise<void>;
  /** Path of a blob's data in the registry's storage (to damage it). */
  blobData(digest: string): string;
  stop(): Promise<void>;
}

/** Debian's docker-registry on 127.0.0.1 (plain HTTP), storing under `dir`. */
export async function startRegistry(dir: string): Promise<TestRegistry> {
  const port = await freePort();
  const storage = path.join(dir, "storage");
  await fs.mkdir(storage, { recursive: true });
  const config = path.join(dir, "config.yml");
  await fs.writeFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${storage}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
  const host = `127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    const up = await fetch(`http://${host}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (tries > 100) throw new Error("docker-registry did not start");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    host,
    storage,
    push: async (layout, repository) => {
      await run("skopeo", [
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        `oci:${layout}:latest`,
        `docker://${host}/${repository}`,
      ]);
    },
    blobData: (digest) =>
      path.join(
        storage,
        "docker/registry/v2/blobs/sha256",
        digest.slice(7, 9),
        digest.slice(7),
        "data",
      ),
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

export interface AuthProxy {
  port: number;
  stop(): Promise<void>;
}

/**
 * A registry front that demands HTTP Basic credentials (docker-registry's own htpasswd auth
 * wants bcrypt hashes and TLS): requests with the right Authorization header are forwarded to
 * `target`, others get 401 with a Basic challenge, as a private registry answers.
 */
export async function startAuthProxy(
  target: string,
  user: string,
  password: string,
  host = "127.0.0.1",
): Promise<AuthProxy> {
  const http = await import("node:http");
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, {
        "WWW-Authenticate": 'Basic realm="pyro-test"',
        "Content-Type": "application/json",
      });
      res.end(
        JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }),
      );
      return;
    }
    const [targetHost, targetPort] = target.split(":");
    const upstream = http.request(
      {
        host: targetHost,
        port: Number(targetPort),
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("no proxy port");
  return {
    port: address.port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
