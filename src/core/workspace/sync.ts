import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import * as tar from "tar";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { checkHostTree, checkTarFile, isTarArchive } from "./archive-safety.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";
import { connectWorkspace } from "./lifecycle.js";
import { workspaceRelative } from "./paths-in-guest.js";

export interface SyncPushPayload {
  workspace_id: string;
  workspace_sync: {
    mode: "directory" | "tar_archive";
    source_path: string;
    destination: string;
    entry_count: number;
    bytes_written: number;
  };
}

const UPLOAD_TIMEOUT_SECONDS = 600;

/**
 * Copy a host directory or archive into the running workspace. Everything is checked on the host
 * first (nothing unsafe is sent), then streamed as a tar into the guest's own tar. The baseline is
 * not touched, so `diff` shows what the push changed.
 */
export async function pushWorkspaceSync(
  paths: PyroPaths,
  workspaceId: string,
  sourcePath: string,
  options: { dest?: string } = {},
): Promise<SyncPushPayload> {
  const rel = workspaceRelative(options.dest ?? WORKSPACE_GUEST_PATH, "--dest");
  const destination = rel === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${rel}`;
  const source = path.resolve(sourcePath);
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat) {
    throw new PyroError("SEED_NOT_FOUND", `source path ${source} does not exist`, {
      hint: "Pass an existing directory or a .tar, .tar.gz or .tgz archive.",
    });
  }
  let stream: Readable;
  let mode: "directory" | "tar_archive";
  let stats;
  if (stat.isDirectory()) {
    stats = await checkHostTree(source);
    stream = tar.c(
      { cwd: source, portable: true },
      await fs.readdir(source),
    ) as unknown as Readable;
    mode = "directory";
  } else if (stat.isFile() && isTarArchive(source)) {
    stats = await checkTarFile(source);
    const raw = createReadStream(source);
    stream = /\.(tar\.gz|tgz)$/i.test(source) ? raw.pipe(createGunzip()) : raw;
    mode = "tar_archive";
  } else {
    throw new PyroError("INVALID_ARGUMENT", `${source} is neither a directory nor a tar archive`, {
      hint: "Use a directory or a .tar, .tar.gz or .tgz file.",
    });
  }

  const agent = await connectWorkspace(paths, workspaceId);
  let stderr = "";
  try {
    const handle = agent.exec(
      {
        argv: [
          "/bin/sh",
          "-c",
          'mkdir -p -- "$1" && exec tar -xf - -C "$1" --no-same-owner',
          "sh",
          destination,
        ],
        cwd: WORKSPACE_GUEST_PATH,
        timeoutMs: UPLOAD_TIMEOUT_SECONDS * 1000,
        stdin: true,
      },
      { onStderr: (c) => (stderr = (stderr + c.toString()).slice(-4000)) },
    );
    for await (const chunk of stream) await handle.writeStdinAsync(chunk as Buffer);
    handle.endStdin();
    const result = await handle.result;
    if (result.exitCode !== 0) {
      throw new PyroError(
        "GUEST_ERROR",
        `unpacking into ${destination} failed: ${stderr.trim() || `exit ${result.exitCode}`}`,
        {
          hint: "The workspace may be partly updated; check it with `pyro workspace diff` or reset it.",
        },
      );
    }
  } finally {
    agent.close();
  }
  return {
    workspace_id: workspaceId,
    workspace_sync: {
      mode,
      source_path: source,
      destination,
      entry_count: stats.entryCount,
      bytes_written: stats.bytes,
    },
  };
}
