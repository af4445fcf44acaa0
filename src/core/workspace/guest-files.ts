import type { AgentConnection } from "../../protocol/client.js";
import { PyroError } from "../errors.js";
import { captureInGuest } from "./guest-capture.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";

/**
 * The guest half of the file tools: short POSIX sh scripts run through the agent's exec, so no
 * agent change and no environment package is needed. Every path the host passes is already
 * relative to /workspace (paths-in-guest.ts); the scripts resolve symlinks with `realpath -m` and
 * refuse a target that ends up outside /workspace, so a link cannot lead a read or a write out.
 * What the guest sends back is data only, bounded by the host (guest-capture.ts).
 */
export const GUEST_EXIT = {
  outside: 40,
  missing: 41,
  notFile: 42,
  stageFailed: 45,
  changed: 46,
  parentNotDirectory: 47,
} as const;

const PRELUDE = `W=${WORKSPACE_GUEST_PATH}
outside() { echo "\${i:-}" >&2; exit ${GUEST_EXIT.outside}; }
resolve() { t=$(realpath -m -- "$W/$1") || outside
  case "$t" in "$W"|"$W"/*) ;; *) outside;; esac; }
`;

/** List: the resolved target's type, then entries as "type mode size\\0name\\0link\\0". */
const LIST_SCRIPT = `${PRELUDE}resolve "$1"
[ -e "$t" ] || [ -L "$t" ] || exit ${GUEST_EXIT.missing}
if [ -d "$t" ]; then printf 'd\\0'
  if [ "$2" = 1 ]; then set -- ; else set -- -maxdepth 1; fi
  find "$t" -mindepth 1 "$@" \\( -path "$W/lost+found" -prune \\) -o -printf '%y %m %s\\0%P\\0%l\\0' | head -z -n "$LIMIT"
else printf 'f\\0'; find "$t" -maxdepth 0 -printf '%y %m %s\\0%f\\0%l\\0'; fi`;

/** Read: the size on a line of its own, then at most $4+1 bytes of the range asked for. */
const READ_SCRIPT = `${PRELUDE}resolve "$1"
[ -e "$t" ] || [ -L "$t" ] || exit ${GUEST_EXIT.missing}
[ -f "$t" ] || exit ${GUEST_EXIT.notFile}
stat -c '%s' -- "$t" || exit 1
if [ "$2" = bytes ]; then tail -c "+$(($3 + 1))" -- "$t" | head -c "$(($5 + 1))"
else sed -n "$3,$4p;$4q" -- "$t" | head -c "$(($5 + 1))"; fi`;

/**
 * Commit staged files: stdin is a tar of the new contents named 0, 1, ...; the arguments are
 * triples "put|del PATH EXPECT" where EXPECT is "-" (anything), "absent" (must not exist) or
 * the sha256 the file had when the host read it. Every check runs before anything is moved, so
 * a refused commit changes nothing; each file is replaced by one rename (atomic per file) from a
 * staging directory on the same filesystem, which is removed on exit.
 */
const COMMIT_SCRIPT = `${PRELUDE}S=$(mktemp -d "$W/.pyro-stage.XXXXXX") || exit ${GUEST_EXIT.stageFailed}
trap 'rm -rf "$S"' EXIT
tar -xf - -C "$S" --no-same-owner || exit ${GUEST_EXIT.stageFailed}
fail() { echo "$i" >&2; exit "$1"; }
check() { i=0; while [ $# -ge 3 ]; do resolve "$2"
  if [ "$1" = put ]; then [ -d "$t" ] && fail ${GUEST_EXIT.notFile}
    d=$(dirname "$t"); while [ ! -e "$d" ] && [ ! -L "$d" ]; do d=$(dirname "$d"); done
    [ -d "$d" ] || fail ${GUEST_EXIT.parentNotDirectory}
    if [ -e "$t" ]; then echo old; else echo new; fi
  else [ -f "$t" ] || fail ${GUEST_EXIT.missing}; fi
  case "$3" in -) ;;
    absent) if [ -e "$t" ] || [ -L "$t" ]; then fail ${GUEST_EXIT.changed}; fi ;;
    *) [ -f "$t" ] || fail ${GUEST_EXIT.changed}
       [ "$(sha256sum < "$t" | cut -c1-64)" = "$3" ] || fail ${GUEST_EXIT.changed} ;;
  esac; i=$((i + 1)); shift 3; done; }
apply() { i=0; while [ $# -ge 3 ]; do resolve "$2"
  if [ "$1" = put ]; then mkdir -p -- "$(dirname "$t")" || fail ${GUEST_EXIT.parentNotDirectory}
    if [ -f "$t" ]; then chmod --reference="$t" -- "$S/$i"; else chmod 0644 -- "$S/$i"; fi
    mv -f -- "$S/$i" "$t" || fail 1
  else rm -f -- "$t" || fail 1; fi
  i=$((i + 1)); shift 3; done; }
check "$@"; apply "$@"`;

export interface RawListEntry {
  type: string;
  mode: string;
  size: number;
  name: string;
  link: string;
}

export async function listInGuest(
  agent: AgentConnection,
  rel: string,
  recursive: boolean,
  maxEntries: number,
): Promise<{ exitCode: number; isDirectory: boolean; entries: RawListEntry[]; more: boolean }> {
  const fields = 3 * (maxEntries + 1);
  const out = await captureInGuest(
    agent,
    ["/bin/sh", "-c", `LIMIT=${fields}\n${LIST_SCRIPT}`, "sh", rel, recursive ? "1" : "0"],
    // Names are at most 4096 bytes each; this bounds what the host keeps whatever the guest sends.
    { limit: (maxEntries + 1) * (2 * 4096 + 64) + 2 },
  );
  const parts = out.stdout.toString("utf8").split("\0");
  const isDirectory = parts[0] === "d";
  const entries: RawListEntry[] = [];
  for (let i = 1; i + 2 < parts.length; i += 3) {
    const [type = "", mode = "", size = "0"] = (parts[i] as string).split(" ");
    const name = parts[i + 1] as string;
    if (isDirectory && (name === "" || name.startsWith("/") || name.split("/").includes("..")))
      continue; // never trust odd names
    entries.push({ type, mode, size: Number(size) || 0, name, link: parts[i + 2] as string });
  }
  const more = entries.length > maxEntries;
  return { exitCode: out.exitCode, isDirectory, entries: entries.slice(0, maxEntries), more };
}

export async function readInGuest(
  agent: AgentConnection,
  rel: string,
  range: { kind: "bytes"; offset: number } | { kind: "lines"; start: number; end: number | null },
  maxBytes: number,
): Promise<{ exitCode: number; size: number; data: Buffer; more: boolean }> {
  const args =
    range.kind === "bytes"
      ? ["bytes", String(range.offset), "0"]
      : ["lines", String(range.start), range.end === null ? "$" : String(range.end)];
  const out = await captureInGuest(
    agent,
    ["/bin/sh", "-c", READ_SCRIPT, "sh", rel, ...args, String(maxBytes)],
    { limit: maxBytes + 32 },
  );
  if (out.exitCode !== 0)
    return { exitCode: out.exitCode, size: 0, data: Buffer.alloc(0), more: false };
  const newline = out.stdout.indexOf(10);
  const size = Number(out.stdout.subarray(0, newline).toString("ascii"));
  if (newline < 0 || !Number.isSafeInteger(size) || size < 0) {
    throw new PyroError("PROTOCOL_ERROR", "the guest answered a file read with no size", {
      hint: "The guest is misbehaving; reset the workspace.",
    });
  }
  const body = out.stdout.subarray(newline + 1);
  const more = body.length > maxBytes;
  return { exitCode: 0, size, data: more ? body.subarray(0, maxBytes) : body, more };
}

export interface CommitOp {
  op: "put" | "del";
  rel: string;
  /** "-" for no expectation, "absent", or the sha256 of the content the host based this on. */
  expect: string;
  content?: Buffer;
}

export async function commitInGuest(
  agent: AgentConnection,
  ops: readonly CommitOp[],
): Promise<{ exitCode: number; failedIndex: number | null; existed: boolean[] }> {
  const staged = ops.map((op, index) => ({ name: String(index), content: op.content }));
  const out = await captureInGuest(
    agent,
    ["/bin/sh", "-c", COMMIT_SCRIPT, "sh", ...ops.flatMap((op) => [op.op, op.rel, op.expect])],
    { input: ustar(staged), limit: 16 * ops.length + 64 },
  );
  const failed = Number.parseInt(out.stderr.trim().split("\n").pop() ?? "", 10);
  const existed = out.stdout
    .toString("ascii")
    .split("\n")
    .filter((l) => l === "old" || l === "new")
    .map((l) => l === "old");
  return {
    exitCode: out.exitCode,
    failedIndex: out.exitCode !== 0 && Number.isInteger(failed) ? failed : null,
    existed,
  };
}

/** A minimal ustar archive of regular files with short names (the staging names 0, 1, ...). */
export function ustar(files: readonly { name: string; content?: Buffer | undefined }[]): Buffer {
  const blocks: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  for (const file of files) {
    if (file.content === undefined) continue;
    const header = Buffer.alloc(512);
    header.write(file.name, 0, 100, "ascii");
    header.write("0000644\0", 100, "ascii");
    header.write("0000000\0", 108, "ascii");
    header.write("0000000\0", 116, "ascii");
    header.write(`${file.content.length.toString(8).padStart(11, "0")}\0`, 124, "ascii");
    header.write(`${mtime.toString(8).padStart(11, "0")}\0`, 136, "ascii");
    header.write("        ", 148, "ascii");
    header.write("0", 156, "ascii");
    header.write("ustar\0", 257, "ascii");
    header.write("00", 263, "ascii");
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
    blocks.push(header, file.content, Buffer.alloc((512 - (file.content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
