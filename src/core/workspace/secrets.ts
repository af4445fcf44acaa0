import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { invalidArgument, PyroError } from "../errors.js";
import type { PyroPaths } from "../paths.js";
import { connectWorkspace } from "./lifecycle.js";
import { WORKSPACE_ID_PATTERN, workspaceFiles } from "./layout.js";
import type { SecretMetadata } from "./record.js";

/**
 * Workspace secrets (the original's 2.9). Values are given at create (literal or from a host
 * file), kept on the host in `secrets.json` (mode 0600, the only file under the state directory
 * that holds them) and in the guest in a tmpfs at /run/pyro-secrets (memory, outside /workspace:
 * never in a snapshot, diff or export). Reset and start put them back from the host file. A
 * command gets a secret only when asked (`--secret-env NAME[=ENVVAR]`); every output that leaves
 * pyro has the values replaced by [REDACTED] (redact.ts). Records hold names only.
 */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const MAX_SECRET_BYTES = 64 * 1024;
export const MAX_SECRETS = 32;
export const SECRETS_GUEST_DIR = "/run/pyro-secrets";

/** A secret as create takes it: a literal value or a host file to read it from. */
export interface SecretInput {
  name: string;
  value?: string;
  file_path?: string;
}

/** A secret with its value, as the host file keeps it. */
export interface SecretMaterial extends SecretMetadata {
  value: string;
}

const SECRET_HINT =
  "Give secrets as --secret NAME=VALUE or --secret-file NAME=PATH; NAME is letters, digits and '_' (max 64), not starting with a digit.";

function checkSecretName(name: unknown): string {
  if (typeof name !== "string" || !SECRET_NAME_PATTERN.test(name)) {
    // The name is not the value, but a mistyped NAME=VALUE can put the value here: not echoed.
    throw invalidArgument(
      "invalid secret name: --secret / secrets names must match ^[A-Za-z_][A-Za-z0-9_]{0,63}$",
      SECRET_HINT,
    );
  }
  return name;
}

function checkSecretValue(name: string, value: string): string {
  if (value.length === 0) {
    throw invalidArgument(`secret "${name}" is empty`, "A secret needs a non-empty value.");
  }
  if (Buffer.byteLength(value, "utf8") > MAX_SECRET_BYTES) {
    throw invalidArgument(
      `secret "${name}" is larger than ${MAX_SECRET_BYTES} bytes`,
      "Secrets are tokens and keys; put larger files in the workspace instead.",
    );
  }
  if (value.includes("\0")) {
    throw invalidArgument(
      `secret "${name}" contains a NUL byte`,
      "Secret values are text that can go into an environment variable.",
    );
  }
  return value;
}

async function readSecretFile(name: string, filePath: string): Promise<string> {
  let data: Buffer;
  try {
    const stat = await fs.stat(filePath);
    if (!stat.isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTFILE" });
    if (stat.size > MAX_SECRET_BYTES) {
      throw invalidArgument(
        `the file of secret "${name}" is larger than ${MAX_SECRET_BYTES} bytes`,
        "Secrets are tokens and keys; put larger files in the workspace instead.",
      );
    }
    data = await fs.readFile(filePath);
  } catch (error) {
    if (error instanceof PyroError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new PyroError(
      "SECRET_FILE_UNREADABLE",
      `cannot read the file of secret "${name}" (${filePath}): ${code}`,
      { hint: "--secret-file NAME=PATH needs a readable regular file on the host." },
    );
  }
  const value = new TextDecoder("utf-8", { fatal: false }).decode(data);
  if (!Buffer.from(value, "utf8").equals(data)) {
    throw invalidArgument(
      `the file of secret "${name}" is not UTF-8 text`,
      "--secret-file takes a UTF-8 text file.",
    );
  }
  return checkSecretValue(name, value);
}

/** Check names (unique), values (not empty, bounded) and files (readable); read the files. */
export async function loadSecrets(inputs: readonly SecretInput[]): Promise<SecretMaterial[]> {
  if (inputs.length > MAX_SECRETS) {
    throw invalidArgument(`too many secrets: at most ${MAX_SECRETS}`, SECRET_HINT);
  }
  const out: SecretMaterial[] = [];
  for (const input of inputs) {
    const name = checkSecretName(input.name);
    if (out.some((s) => s.name === name)) {
      throw invalidArgument(`secret "${name}" is given twice`, "Give each secret name once.");
    }
    const literal = typeof input.value === "string";
    const file = typeof input.file_path === "string";
    if (literal === file) {
      throw invalidArgument(
        `secret "${name}" needs exactly one of a value and a file path`,
        SECRET_HINT,
      );
    }
    const value = literal
      ? checkSecretValue(name, input.value as string)
      : await readSecretFile(name, input.file_path as string);
    out.push({ name, source_kind: literal ? "literal" : "file", value });
  }
  return out;
}

function secretsFile(paths: PyroPaths, workspaceId: string): string {
  return path.join(workspaceFiles(paths, workspaceId).dir, "secrets.json");
}

/** Written once at create, readable by the owner only, replaced whole (never half-written). */
export async function writeSecretsFile(
  paths: PyroPaths,
  workspaceId: string,
  secrets: readonly SecretMaterial[],
): Promise<void> {
  if (secrets.length === 0) return;
  const file = secretsFile(paths, workspaceId);
  const temp = `${file}.tmp-${randomBytes(4).toString("hex")}`;
  const handle = await fs.open(temp, "wx", 0o600);
  try {
    await handle.writeFile(JSON.stringify(secrets));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
}

/** The workspace's secrets with their values; none when it has no secrets file. */
export async function readSecrets(
  paths: PyroPaths,
  workspaceId: string,
): Promise<SecretMaterial[]> {
  if (typeof workspaceId !== "string" || !WORKSPACE_ID_PATTERN.test(workspaceId)) return [];
  let text: string;
  try {
    text = await fs.readFile(secretsFile(paths, workspaceId), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) throw new PyroError("WORKSPACE_CORRUPT", "secrets.json is invalid");
  return parsed.filter(
    (s): s is SecretMaterial =>
      typeof s === "object" &&
      s !== null &&
      typeof (s as SecretMaterial).name === "string" &&
      typeof (s as SecretMaterial).value === "string",
  );
}

/**
 * The texts to redact for these secrets: each value, the value without a trailing newline (a
 * token file usually ends with one, and a command often prints the token without it), and for a
 * value of several lines its terminal form with \r\n (what a PTY shell prints).
 */
export function redactionValues(secrets: readonly { value: string }[]): string[] {
  const out = new Set<string>();
  for (const { value } of secrets) {
    for (const form of [value, value.replace(/\r?\n$/, "")]) {
      if (form.length === 0) continue;
      out.add(form);
      if (form.includes("\n")) out.add(form.replace(/\r?\n/g, "\r\n"));
    }
  }
  return [...out];
}

export async function secretValues(paths: PyroPaths, workspaceId: string): Promise<string[]> {
  return redactionValues(await readSecrets(paths, workspaceId).catch(() => []));
}

/**
 * The environment a command asked for: `{ENVVAR: value}` from `{SECRET_NAME: ENVVAR}`. A secret
 * the workspace does not have is SECRET_NOT_FOUND (naming the secret, which is not its value).
 */
export function secretEnv(
  secrets: readonly SecretMaterial[],
  mapping: Record<string, string> | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, envName] of Object.entries(mapping ?? {})) {
    const secret = secrets.find((s) => s.name === name);
    if (!secret) {
      const known = secrets.map((s) => s.name);
      throw new PyroError("SECRET_NOT_FOUND", `this workspace has no secret named "${name}"`, {
        hint:
          known.length > 0
            ? `--secret-env names one of: ${known.join(", ")}.`
            : "This workspace has no secrets; give them at create with --secret or --secret-file.",
      });
    }
    const variable = envName === "" ? name : envName;
    if (!ENV_NAME_PATTERN.test(variable)) {
      throw invalidArgument(
        `invalid environment variable name "${variable}" for secret "${name}"`,
        "--secret-env takes NAME or NAME=ENVVAR, ENVVAR being letters, digits and '_'.",
      );
    }
    env[variable] = secret.value;
  }
  return env;
}

/** Mount the tmpfs once, then write one secret through stdin (never through argv). */
const MATERIALIZE_SCRIPT = `set -e
d=${SECRETS_GUEST_DIR}
mkdir -p "$d"
grep -qs " $d tmpfs " /proc/mounts || mount -t tmpfs -o mode=0700,size=4m,nosuid,nodev,noexec pyro-secrets "$d"
umask 077
cat > "$d/.$1.tmp"
mv -f "$d/.$1.tmp" "$d/$1"`;

/** Put every secret into the guest's tmpfs (after create, reset and start). */
export async function materializeSecrets(paths: PyroPaths, workspaceId: string): Promise<void> {
  const secrets = await readSecrets(paths, workspaceId);
  if (secrets.length === 0) return;
  const agent = await connectWorkspace(paths, workspaceId);
  try {
    for (const secret of secrets) {
      let stderr = "";
      const handle = agent.exec(
        {
          argv: ["/bin/sh", "-c", MATERIALIZE_SCRIPT, "materialize", secret.name],
          cwd: "/",
          timeoutMs: 30_000,
          stdin: true,
        },
        { onStderr: (chunk) => void (stderr = (stderr + chunk.toString()).slice(-2000)) },
      );
      await handle.writeStdinAsync(Buffer.from(secret.value, "utf8"));
      handle.endStdin();
      const result = await handle.result;
      if (result.exitCode !== 0) {
        throw new PyroError(
          "GUEST_ERROR",
          `could not put secret "${secret.name}" into the guest (exit ${result.exitCode}): ${stderr.trim()}`,
          { hint: `Reset the workspace with \`pyro workspace reset ${workspaceId}\`.` },
        );
      }
    }
  } finally {
    agent.close();
  }
}
