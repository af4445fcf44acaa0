import path from "node:path";
import { PyroError } from "../errors.js";
import { corrupt, type MemberKind } from "./tar-reader.js";

/**
 * The rules a tree must pass before pyro writes any of it: an allowlist of entry types (files,
 * directories, symlinks, hard links), relative names without `..` that fit Linux limits, no entry
 * under a symlink or a file, no entry that changes type when repeated, hard links only to files
 * already in the tree, and every symlink resolved fully (chains, `..`, absolute) inside the root.
 * The same rules serve seeds, sync pushes (archives and directories) and exports.
 */
export type AllowedKind = "file" | "directory" | "symlink" | "hardlink";

export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4095;
/** Link hops while resolving one symlink (Linux's MAXSYMLINKS is 40). */
const MAX_LINK_HOPS = 40;

export function unsafe(message: string, hint: string): PyroError {
  return new PyroError("UNSAFE_ARCHIVE", message, { hint });
}

const LINK_HINT =
  "Only links that resolve inside the tree are accepted; replace the link with the file it points to.";

/** Normalise a member name to a relative path ("." is the root); refuses absolute and `..`. */
export function safeMemberPath(name: string): string {
  if (name.includes("\0"))
    throw unsafe(`archive member name contains a NUL byte`, "Rebuild the archive.");
  if (name.startsWith("/")) {
    throw unsafe(
      `archive member "${name}" has an absolute path`,
      "Archives must hold relative paths only.",
    );
  }
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) {
    throw unsafe(
      `archive member "${name}" climbs out of the root with ..`,
      "Remove .. segments from the archive.",
    );
  }
  const normalized = parts.join("/") || ".";
  checkLengths(normalized);
  return normalized;
}

/** Linux limits: 255 bytes a name, 4095 bytes a path. */
export function checkLengths(relative: string): void {
  if (Buffer.byteLength(relative) > MAX_PATH_BYTES) {
    throw new PyroError(
      "PATH_TOO_LONG",
      `path "${relative.slice(0, 80)}..." is ${Buffer.byteLength(relative)} bytes, over the ${MAX_PATH_BYTES}-byte limit`,
      { hint: "Shorten the directory structure; Linux paths are limited to 4096 bytes." },
    );
  }
  for (const part of relative.split("/")) {
    if (Buffer.byteLength(part) > MAX_NAME_BYTES) {
      throw new PyroError(
        "PATH_TOO_LONG",
        `name "${part.slice(0, 60)}..." is ${Buffer.byteLength(part)} bytes, over the ${MAX_NAME_BYTES}-byte limit`,
        { hint: "Rename the entry; Linux file names are limited to 255 bytes." },
      );
    }
  }
}

interface Node {
  kind: AllowedKind;
  linkTarget: string;
  /** True for directories that exist only because an entry below them does. */
  implicit: boolean;
  size: number;
}

export interface TreeCounts {
  entryCount: number;
  bytes: number;
}

export class TreePolicy {
  private readonly nodes = new Map<string, Node>();
  private readonly rootParts: string[];

  /** `root` is the part of the tree that becomes the result ("." for all of it). */
  constructor(
    private readonly root = ".",
    private readonly label = "archive",
  ) {
    this.rootParts = root === "." ? [] : root.split("/");
  }

  /** Check one entry as it arrives; returns its normalised path. */
  add(name: string, kind: MemberKind, linkTarget: string, typeflag = "", realSize = 0): string {
    const member = safeMemberPath(name);
    if (kind === "other") {
      throw unsafe(
        `${this.label} member "${name}" is ${describeType(typeflag)}`,
        "Only regular files, directories, symlinks and hard links are accepted; devices, FIFOs and sockets are refused.",
      );
    }
    if (!this.insideRoot(member.split("/").filter((p) => p !== "."))) {
      throw unsafe(
        `${this.label} member "${member}" is not under ${this.root}`,
        "The sender is misbehaving; for an export, reset the workspace.",
      );
    }
    if (member === "." && kind !== "directory") {
      throw unsafe(
        `${this.label} root entry is a ${kind}`,
        "The root of an archive must be a directory.",
      );
    }
    this.checkParents(member);
    const existing = this.nodes.get(member);
    if (existing && existing.kind !== kind && !(existing.implicit && kind === "directory")) {
      throw unsafe(
        `${this.label} member "${member}" appears twice, first as a ${existing.kind} then as a ${kind}`,
        "Rebuild the archive so each path appears once.",
      );
    }
    if (kind === "hardlink") this.checkHardLink(member, linkTarget);
    if (kind === "symlink" && linkTarget === "") {
      throw corrupt(`symlink "${member}" has an empty target`);
    }
    this.nodes.set(member, {
      kind,
      linkTarget,
      implicit: false,
      size: kind === "file" ? realSize : 0,
    });
    return member;
  }

  /** Resolve every symlink now that the whole tree is known; call before creating any link. */
  finish(): TreeCounts {
    for (const [member, node] of this.nodes) {
      if (node.kind === "symlink") this.resolveInside(member, node.linkTarget);
    }
    let entryCount = 0;
    let bytes = 0;
    for (const [member, node] of this.nodes) {
      if (member !== ".") entryCount += 1;
      bytes += node.size;
    }
    return { entryCount, bytes };
  }

  kindOf(member: string): AllowedKind | undefined {
    return this.nodes.get(member)?.kind;
  }

  private insideRoot(parts: string[]): boolean {
    if (parts.length < this.rootParts.length) return false;
    return this.rootParts.every((part, i) => parts[i] === part);
  }

  /** Every ancestor must be a directory: nothing may be written through a link or into a file. */
  private checkParents(member: string): void {
    const parts = member === "." ? [] : member.split("/");
    for (let i = 1; i < parts.length; i += 1) {
      const ancestor = parts.slice(0, i).join("/");
      const node = this.nodes.get(ancestor);
      if (node === undefined) {
        this.nodes.set(ancestor, { kind: "directory", linkTarget: "", implicit: true, size: 0 });
      } else if (node.kind !== "directory") {
        throw unsafe(
          `${this.label} member "${member}" lies under "${ancestor}", which is a ${node.kind}`,
          "Entries may not be written through links or into files; rebuild the archive.",
        );
      }
    }
  }

  private checkHardLink(member: string, target: string): void {
    const normalized = safeMemberPath(target);
    if (!this.insideRoot(normalized === "." ? [] : normalized.split("/"))) {
      throw unsafe(`hard link "${member}" points outside the ${this.label} (${target})`, LINK_HINT);
    }
    const node = this.nodes.get(normalized);
    if (node === undefined) {
      throw new PyroError(
        "ARCHIVE_CORRUPT",
        `hard link "${member}" points to "${target}", which is not earlier in the ${this.label}`,
        {
          hint: "The hard link's target is missing; rebuild the archive with the target included.",
        },
      );
    }
    if (node.kind !== "file" && node.kind !== "hardlink") {
      throw unsafe(
        `hard link "${member}" points to a ${node.kind} (${target})`,
        "Hard links may only point to files.",
      );
    }
  }

  /** Follow a symlink the way the kernel would, refusing any step that leaves the root. */
  private resolveInside(member: string, target: string): void {
    const refuse = (why: string) =>
      unsafe(`symlink "${member}" -> "${target}" ${why} the ${this.label}`, LINK_HINT);
    const stack = member.split("/").slice(0, -1);
    if (!this.insideRoot(stack)) {
      throw unsafe(
        `symlink "${member}" -> "${target}" is the exported path itself, so it can only point outside it`,
        "Export the directory that holds both the link and its target, or the target itself.",
      );
    }
    const queue = splitTarget(target);
    if (target.startsWith("/")) throw refuse("is absolute and leads outside");
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift() as string;
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (stack.length <= this.rootParts.length) throw refuse("climbs out of");
        stack.pop();
        continue;
      }
      const candidate = [...stack, part].join("/");
      const node = this.nodes.get(candidate);
      if (node?.kind === "symlink") {
        hops += 1;
        if (hops > MAX_LINK_HOPS) throw refuse("loops or chains too deeply inside");
        if (node.linkTarget.startsWith("/"))
          throw refuse(`reaches absolute link "${candidate}" and leaves`);
        queue.unshift(...splitTarget(node.linkTarget));
        continue;
      }
      stack.push(part);
    }
  }
}

function splitTarget(target: string): string[] {
  return target.split("/").filter((part) => part !== "");
}

function describeType(typeflag: string): string {
  const names: Record<string, string> = {
    "3": "a character device",
    "4": "a block device",
    "6": "a FIFO",
    D: "a GNU dump directory",
    V: "a tape volume header",
    M: "a multi-volume continuation",
    N: "an old GNU long name",
    A: "a Solaris ACL",
    I: "an inode-only entry",
    X: "an old extended header",
  };
  return names[typeflag] ?? `an unsupported entry (type ${JSON.stringify(typeflag)})`;
}

/** Host-tree walks and archives share the resolution rules through this path helper. */
export const toPosix = (relative: string): string => relative.split(path.sep).join("/");
