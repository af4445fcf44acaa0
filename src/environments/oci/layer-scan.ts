import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { createGunzip } from "node:zlib";
import { TarReader, type TarMember } from "../../core/archive/tar-reader.js";
import { PyroError } from "../../core/errors.js";

/**
 * Checks every layer of a pulled OCI layout before anything is unpacked: each blob's sha256 must
 * be its name (skopeo checked it on the wire; this catches a layout changed on disk since), and
 * each tar member must stay inside the root. Refused: absolute names, `..` components, hard links
 * that leave the root, device nodes. Setuid files, symlinks and owners are the image's business:
 * they are unpacked as the sandbox's unprivileged uids (see sandbox.ts), where they grant nothing.
 */
export interface LayerDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ImageLayout {
  manifestDigest: string;
  configDigest: string;
  layers: LayerDescriptor[];
  /** Image config: Env and WorkingDir become command defaults. */
  env: string[];
  workingDir: string | null;
  totalLayerBytes: number;
}

const MAX_JSON_BYTES = 4 * 1024 * 1024;

export function unsafeImage(message: string): PyroError {
  return new PyroError("IMAGE_UNSAFE", message, {
    hint: "The image tries to reach outside its own root; rebuild it from normal files or use another image.",
  });
}

export function corruptImage(message: string): PyroError {
  return new PyroError("IMAGE_PULL_FAILED", message, {
    hint: "A blob of the image is damaged or incomplete; push the image again, then pull again.",
  });
}

export function blobPath(layout: string, digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!match) throw corruptImage(`unsupported digest ${JSON.stringify(digest).slice(0, 80)}`);
  return path.join(layout, "blobs", "sha256", match[1] as string);
}

async function verifiedBlob(layout: string, digest: string): Promise<string> {
  const file = blobPath(layout, digest);
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  if (`sha256:${hash.digest("hex")}` !== digest) {
    throw corruptImage(`blob ${digest.slice(0, 19)} does not match its digest`);
  }
  return file;
}

async function readJsonBlob(layout: string, digest: string): Promise<Record<string, unknown>> {
  const file = await verifiedBlob(layout, digest);
  const stat = await fs.stat(file);
  if (stat.size > MAX_JSON_BYTES) throw corruptImage(`blob ${digest} is too large for JSON`);
  const value: unknown = JSON.parse(await fs.readFile(file, "utf8"));
  if (typeof value !== "object" || value === null) throw corruptImage(`blob ${digest} is not JSON`);
  return value as Record<string, unknown>;
}

/** Read index -> manifest -> config of a one-image layout that skopeo wrote. */
export async function readLayout(layout: string): Promise<ImageLayout> {
  const index = JSON.parse(await fs.readFile(path.join(layout, "index.json"), "utf8")) as {
    manifests?: { digest?: string }[];
  };
  const manifestDigest = index.manifests?.[0]?.digest;
  if (typeof manifestDigest !== "string") throw corruptImage("the image has no manifest");
  const manifest = (await readJsonBlob(layout, manifestDigest)) as {
    config?: { digest?: unknown };
    layers?: { digest?: unknown; mediaType?: unknown; size?: unknown }[];
  };
  const configDigest = manifest.config?.digest;
  if (typeof configDigest !== "string" || !Array.isArray(manifest.layers)) {
    throw corruptImage("the image manifest has no config or layers");
  }
  const layers = manifest.layers.map((layer) => ({
    digest: String(layer.digest),
    mediaType: String(layer.mediaType),
    size: Number(layer.size),
  }));
  const config = (await readJsonBlob(layout, configDigest)) as {
    architecture?: unknown;
    os?: unknown;
    config?: { Env?: unknown; WorkingDir?: unknown };
  };
  if (config.os !== "linux" || config.architecture !== "amd64") {
    throw new PyroError(
      "IMAGE_PULL_FAILED",
      `the image is for ${String(config.os)}/${String(config.architecture)}, not linux/amd64`,
      { hint: "Pull an image (or tag) built for linux/amd64." },
    );
  }
  const env = Array.isArray(config.config?.Env)
    ? config.config.Env.filter(
        (entry): entry is string =>
          typeof entry === "string" &&
          /^[A-Za-z_][A-Za-z0-9_]*=/.test(entry) &&
          !/[\0\n]/.test(entry),
      )
    : [];
  const workingDir =
    typeof config.config?.WorkingDir === "string" &&
    config.config.WorkingDir.startsWith("/") &&
    !/[\0\n]/.test(config.config.WorkingDir)
      ? config.config.WorkingDir
      : null;
  return {
    manifestDigest,
    configDigest,
    layers,
    env,
    workingDir,
    totalLayerBytes: layers.reduce((sum, layer) => sum + (layer.size || 0), 0),
  };
}

/** Verify and scan every layer; throws IMAGE_UNSAFE naming the first member that is refused. */
export async function scanLayers(layout: string, image: ImageLayout): Promise<void> {
  for (const layer of image.layers) {
    const file = await verifiedBlob(layout, layer.digest);
    const gzip = layer.mediaType.endsWith("+gzip") || layer.mediaType.endsWith(".gzip");
    const plain = layer.mediaType.endsWith(".tar") || layer.mediaType.endsWith("tar");
    if (!gzip && !plain) {
      throw new PyroError("IMAGE_PULL_FAILED", `unsupported layer type ${layer.mediaType}`, {
        hint: "Use an image whose layers are tar or tar+gzip (zstd layers are not supported).",
      });
    }
    const reader = new TarReader({
      member: (member) => checkMember(member, layer.digest),
      data: () => undefined,
      memberEnd: () => undefined,
    });
    const source = createReadStream(file);
    const stream = gzip ? source.pipe(createGunzip()) : source;
    try {
      for await (const chunk of stream) await reader.push(chunk as Buffer);
    } catch (error) {
      source.destroy();
      if (error instanceof PyroError) throw error;
      throw corruptImage(`layer ${layer.digest.slice(0, 19)} is not a valid compressed tar`);
    }
  }
}

function checkMember(member: TarMember, layer: string): void {
  const where = `layer ${layer.slice(0, 19)}: ${JSON.stringify(member.path).slice(0, 200)}`;
  if (escapes(member.path)) throw unsafeImage(`${where} is outside the image root`);
  if (member.kind === "hardlink" && escapes(member.linkTarget)) {
    throw unsafeImage(
      `${where} is a hard link to ${JSON.stringify(member.linkTarget)}, outside the image`,
    );
  }
  if (member.typeflag === "3" || member.typeflag === "4") {
    throw unsafeImage(`${where} is a device node`);
  }
}

/** Absolute, or climbing out with `..` at any point. */
function escapes(name: string): boolean {
  if (name.startsWith("/")) return true;
  let depth = 0;
  for (const part of name.split("/")) {
    if (part === "..") depth -= 1;
    else if (part !== "." && part !== "") depth += 1;
    if (depth < 0) return true;
  }
  return name.split("/").includes("..");
}
