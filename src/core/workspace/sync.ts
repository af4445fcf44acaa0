import fs from "node:fs/promises";
import type { Readable } from "node:stream";
import * as tar from "tar";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { openStaging, type Staging } from "../archive/staging.js";
import { checkHostTree, extractTarFile, isTarArchive, type TreeStats } from "./archive-safety.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";
import { connectWorkspace } from "./lifecycle.js";
import { workspaceRelative } from "./paths-in-guest.js";
import { resolveSourcePath } from "./seed.js";

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
 * first (nothing unsafe is sent): a directory is walked and checked, an archive is read to its end
 * and unpacked with pyro's own checked writes into a private staging directory. Only then is a
 * fresh tar, written by node-tar from the checked tree, streamed into the guest's tar, so the
 * guest never parses the user's archive and the counts are those of what was sent. The baseline
 * is not touched, so `diff` shows what the push changed.
 */
export async function pushWorkspaceSync(
  paths: PyroPaths,
  workspaceId: string,
  sourcePath: string,
  options: { dest?: string } = {},
): Promise<SyncPushPayload> {
  const rel = workspaceRelative(options.dest ?? WORKSPACE_GUEST_PATH, "--dest");
  const destination = rel === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${rel}`;
  const source = resolveSourcePath(sourcePath, "source path");
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat) {
    throw new PyroError("SEED_NOT_FOUND", `source path ${source} does not exist`, {
      hint: "Pass an existing directory or a .tar, .tar.gz or .tgz archive.",
    });
  }
  let mode: "directory" | "tar_archive";
  let stats: TreeStats;
  let tree: string;
  let staging: Staging | undefined;
  if (stat.isDirectory()) {
    stats = await checkHostTree(source);
    tree = source;
    mode = "directory";
  } else if (stat.isFile() && isTarArchive(source)) {
    staging = await openStaging(paths, "sync");
    try {
      stats = await extractTarFile(source, staging.tree);
    } catch (error) {
      await staging.dispose();
      throw error;
    }
    tree = staging.tree;
    mode = "tar_archive";
  } else {
    throw new PyroError("INVALID_ARGUMENT", `${source} is neither a directory nor a tar archive`, {
      hint: "Use a directory or a .tar, .tar.gz or .tgz file.",
    });
  }
  try {
    await sendTree(paths, workspaceId, tree, destination);
  } finally {
    await staging?.dispose();
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

/** Stream a checked host tree as a tar into the guest's tar under `destination`. */
async function sendTree(
  paths: PyroPaths,
  workspaceId: string,
  tree: string,
  destination: string,
): Promise<void> {
  const entries = await fs.readdir(tree);
  const stream = (entries.length > 0
    ? tar.c({ cwd: tree, portable: true }, entries)
    : emptyTar()) as unknown as AsyncIterable<Buffer>;

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
}

/** Two zero blocks: what tar writes for an empty tree. */
function emptyTar(): Readable | AsyncIterable<Buffer> {
  return (async function* () {
    yield Buffer.alloc(1024);
  })();
}
