import fs from "node:fs/promises";
import path from "node:path";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { StagedWriter } from "../archive/staged-writer.js";
import { openStaging, outputTempName, type Staging } from "../archive/staging.js";
import { TarReader } from "../archive/tar-reader.js";
import { TreePolicy } from "../archive/tree-policy.js";
import type { ArtifactType } from "./archive-safety.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";
import { connectWorkspace } from "./lifecycle.js";
import { workspaceRelative } from "./paths-in-guest.js";

export interface ExportPayload {
  workspace_id: string;
  workspace_path: string;
  output_path: string;
  artifact_type: ArtifactType;
  entry_count: number;
  bytes_written: number;
  execution_mode: "guest_agent";
}

const MAX_EXPORT_BYTES = Number(process.env.PYRO_MAX_EXPORT_BYTES ?? 4 * 1024 ** 3);
/** Exit status the export script uses when the path does not exist in the guest. */
const MISSING_EXIT = 44;
const EXPORT_SCRIPT = `cd ${WORKSPACE_GUEST_PATH} || exit 1
if [ ! -e "$1" ] && [ ! -L "$1" ]; then exit ${MISSING_EXIT}; fi
exec tar -cf - -- "$1"`;

/**
 * Copy one file or directory from /workspace to the host. The guest sends a tar of the path; the
 * host treats it as hostile. It is read by pyro's strict tar reader and written with pyro's own
 * writes into a staging directory under the state directory (swept if pyro dies): only files,
 * directories and links that resolve inside the exported path, no special mode bits, a byte cap.
 * Only a complete, checked result is moved to --output, by rename (or a tracked copy then rename
 * across filesystems), so --output never holds a partial export.
 */
export async function exportWorkspace(
  paths: PyroPaths,
  workspaceId: string,
  guestPath: string,
  options: { outputPath: string; overwrite?: boolean },
): Promise<ExportPayload> {
  const rel = workspaceRelative(guestPath, "export path");
  const output = path.resolve(options.outputPath);
  if (!options.overwrite && (await exists(output))) {
    throw new PyroError("OUTPUT_EXISTS", `${output} already exists`, {
      hint: "Choose another --output, or pass --overwrite to replace it.",
    });
  }
  await checkOutputWritable(output);
  const staging = await openStaging(paths, "export");
  try {
    const { counts, artifact } = await receive(paths, workspaceId, rel, staging.tree);
    const stat = await fs.lstat(artifact);
    const artifactType: ArtifactType = stat.isDirectory() ? "directory" : "file";
    await placeOutput(artifact, output, options.overwrite === true, staging);
    return {
      workspace_id: workspaceId,
      workspace_path: rel === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${rel}`,
      output_path: output,
      artifact_type: artifactType,
      entry_count: Math.max(counts.entryCount, 1),
      bytes_written: counts.bytes,
      execution_mode: "guest_agent",
    };
  } finally {
    await staging.dispose();
  }
}

/** Stream the guest's tar into the staging tree; every chunk is checked before it is written. */
async function receive(
  paths: PyroPaths,
  workspaceId: string,
  rel: string,
  tree: string,
): Promise<{ counts: { entryCount: number; bytes: number }; artifact: string }> {
  const writer = new StagedWriter(tree, new TreePolicy(rel, "export"), MAX_EXPORT_BYTES);
  const reader = new TarReader(writer);
  const agent = await connectWorkspace(paths, workspaceId);
  let problem: unknown;
  let received = 0;
  let stderr = "";
  // Chunks are applied one after another; the returned promise lets the connection hold the
  // guest back while the disk catches up, so host memory stays bounded.
  let applied: Promise<void> = Promise.resolve();
  try {
    const handle = agent.exec(
      { argv: ["/bin/sh", "-c", EXPORT_SCRIPT, "sh", rel], cwd: WORKSPACE_GUEST_PATH },
      {
        onStdout: (chunk) => {
          if (problem !== undefined) return applied;
          received += chunk.length;
          if (received > MAX_EXPORT_BYTES) {
            problem = new PyroError("UNSAFE_ARCHIVE", `export exceeds ${MAX_EXPORT_BYTES} bytes`, {
              hint: "Export a smaller path, or raise PYRO_MAX_EXPORT_BYTES.",
            });
            handle.signal("KILL");
            return applied;
          }
          const copy = Buffer.from(chunk);
          applied = applied.then(async () => {
            if (problem !== undefined) return;
            try {
              await reader.push(copy);
            } catch (error) {
              problem = error;
              handle.signal("KILL");
            }
          });
          return applied;
        },
        onStderr: (chunk) => {
          stderr = (stderr + chunk.toString()).slice(-4000);
        },
      },
    );
    const result = await handle.result;
    await applied;
    if (problem !== undefined) throw problem;
    if (result.exitCode === MISSING_EXIT) {
      throw new PyroError(
        "EXPORT_PATH_NOT_FOUND",
        `${WORKSPACE_GUEST_PATH}/${rel} does not exist`,
        {
          hint: "Check the path with `pyro workspace exec ID -- ls -la /workspace`.",
        },
      );
    }
    if (result.exitCode !== 0) {
      const last = stderr.trim().split("\n").pop() || `exit ${result.exitCode}`;
      throw new PyroError(
        "EXPORT_FAILED",
        `cannot export ${WORKSPACE_GUEST_PATH}/${rel}: ${last}`,
        { hint: "Check the path with `pyro workspace exec ID -- ls -la`." },
      );
    }
    reader.end();
    const counts = await writer.finish();
    const artifact = path.join(tree, rel);
    if (!(await exists(artifact))) {
      throw new PyroError("EXPORT_FAILED", `the guest sent no entry for ${rel}`, {
        hint: "The guest is misbehaving; reset the workspace.",
      });
    }
    return { counts, artifact };
  } finally {
    await writer.abort();
    agent.close();
  }
}

export async function checkOutputWritable(output: string): Promise<void> {
  try {
    await fs.mkdir(path.dirname(output), { recursive: true });
    await fs.access(path.dirname(output), fs.constants.W_OK);
  } catch (error) {
    throw notWritable(output, error);
  }
}

function notWritable(output: string, error: unknown): PyroError {
  return new PyroError(
    "OUTPUT_NOT_WRITABLE",
    `cannot write ${output}: ${(error as Error).message}`,
    { hint: "Choose an --output in a directory you can write to." },
  );
}

/**
 * Move the finished artifact to --output. Same filesystem: one rename. Across filesystems: a copy
 * into a tracked temporary name beside --output, then a rename. With --overwrite the old output
 * is moved aside (tracked) first and put back if placing the new one fails.
 */
export async function placeOutput(
  artifact: string,
  output: string,
  overwrite: boolean,
  staging: Staging,
): Promise<void> {
  let aside: string | undefined;
  try {
    if (overwrite && (await exists(output))) {
      aside = outputTempName(output, "old");
      await staging.track(aside);
      await fs.rename(output, aside);
    } else if (await exists(output)) {
      throw new PyroError("OUTPUT_EXISTS", `${output} already exists`, {
        hint: "Choose another --output, or pass --overwrite to replace it.",
      });
    }
    try {
      await fs.rename(artifact, output);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
      const temp = outputTempName(output, "copy");
      await staging.track(temp);
      await fs.cp(artifact, temp, { recursive: true, verbatimSymlinks: true, errorOnExist: true });
      await fs.rename(temp, output);
    }
  } catch (error) {
    if (aside !== undefined) await fs.rename(aside, output).catch(() => undefined);
    if (error instanceof PyroError) throw error;
    throw notWritable(output, error);
  }
  if (aside !== undefined) await fs.rm(aside, { recursive: true, force: true });
}

export const exists = (file: string): Promise<boolean> =>
  fs.lstat(file).then(
    () => true,
    () => false,
  );
