import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
import { PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { checkTarEntry, type ArtifactType } from "./archive-safety.js";
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

/**
 * Copy one file or directory from /workspace to the host. The guest sends a tar of the path; the
 * host treats it as hostile: every entry is checked (relative, inside the requested path, links
 * that stay inside, no devices), the bytes are capped, and the result lands in a staging folder
 * next to the output that is renamed into place only when everything passed.
 */
export async function exportWorkspace(
  paths: PyroPaths,
  workspaceId: string,
  guestPath: string,
  options: { outputPath: string; overwrite?: boolean },
): Promise<ExportPayload> {
  const rel = workspaceRelative(guestPath, "export path");
  const output = path.resolve(options.outputPath);
  if (
    !options.overwrite &&
    (await fs.lstat(output).then(
      () => true,
      () => false,
    ))
  ) {
    throw new PyroError("OUTPUT_EXISTS", `${output} already exists`, {
      hint: "Choose another --output, or pass --overwrite to replace it.",
    });
  }
  await fs.mkdir(path.dirname(output), { recursive: true });
  const staging = path.join(path.dirname(output), `.pyro-export-${randomBytes(4).toString("hex")}`);
  await fs.mkdir(staging);
  const agent = await connectWorkspace(paths, workspaceId);
  let problem: unknown;
  let entryCount = 0;
  let bytes = 0;
  let received = 0;
  let stderr = "";
  try {
    const extractor = tar.x({
      cwd: staging,
      strict: true,
      preserveOwner: false,
      filter: (entryPath, entry) => {
        try {
          const member = checkTarEntry(
            entryPath,
            (entry as tar.ReadEntry).type,
            (entry as tar.ReadEntry).linkpath,
          );
          if (rel !== "." && member !== rel && !member.startsWith(`${rel}/`)) {
            throw new PyroError(
              "UNSAFE_ARCHIVE",
              `guest sent "${member}", which is not under ${rel}`,
              {
                hint: "The guest is misbehaving; reset the workspace.",
              },
            );
          }
          if (member !== ".") entryCount += 1;
          if ((entry as tar.ReadEntry).type === "File") bytes += (entry as tar.ReadEntry).size ?? 0;
          return true;
        } catch (error) {
          problem ??= error;
          return false;
        }
      },
      onwarn: (_code, message) => {
        problem ??= new PyroError("UNSAFE_ARCHIVE", `export archive rejected: ${message}`, {
          hint: "The guest sent an archive the host refuses to unpack.",
        });
      },
    });
    const finished = new Promise<void>((resolve, reject) => {
      extractor.on("finish", resolve);
      extractor.on("close", resolve);
      extractor.on("error", reject);
    });
    const handle = agent.exec(
      {
        argv: ["tar", "-C", WORKSPACE_GUEST_PATH, "-cf", "-", "--", rel],
        cwd: WORKSPACE_GUEST_PATH,
      },
      {
        onStdout: (chunk) => {
          received += chunk.length;
          if (received > MAX_EXPORT_BYTES) {
            problem ??= new PyroError(
              "UNSAFE_ARCHIVE",
              `export exceeds ${MAX_EXPORT_BYTES} bytes`,
              {
                hint: "Export a smaller path, or raise PYRO_MAX_EXPORT_BYTES.",
              },
            );
            handle.signal("KILL");
            return;
          }
          extractor.write(chunk);
        },
        onStderr: (chunk) => (stderr = (stderr + chunk.toString()).slice(-4000)),
      },
    );
    const result = await handle.result;
    extractor.end();
    await finished;
    if (problem) throw problem;
    if (result.exitCode !== 0) {
      throw new PyroError(
        "EXPORT_FAILED",
        `cannot export ${WORKSPACE_GUEST_PATH}/${rel}: ${stderr.trim().split("\n").pop() ?? `exit ${result.exitCode}`}`,
        {
          hint: "Check the path with `pyro workspace exec ID -- ls -la`.",
        },
      );
    }
    const artifact = path.join(staging, rel);
    const stat = await fs.lstat(artifact);
    const artifactType: ArtifactType = stat.isDirectory()
      ? "directory"
      : stat.isSymbolicLink()
        ? "symlink"
        : "file";
    if (options.overwrite) await fs.rm(output, { recursive: true, force: true });
    await fs.rename(artifact, output);
    return {
      workspace_id: workspaceId,
      workspace_path: rel === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${rel}`,
      output_path: output,
      artifact_type: artifactType,
      entry_count: Math.max(entryCount, 1),
      bytes_written: bytes,
      execution_mode: "guest_agent",
    };
  } finally {
    agent.close();
    await fs.rm(staging, { recursive: true, force: true });
  }
}
