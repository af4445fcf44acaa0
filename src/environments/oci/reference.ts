import { PyroError } from "../../core/errors.js";

/** A parsed image reference: `[registry/]repository[:tag][@sha256:digest]`. */
export interface ImageReference {
  registry: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  /** Fully qualified, e.g. docker.io/library/alpine:3.20. */
  canonical: string;
  /** True when the registry is this host (plain HTTP is then allowed). */
  loopback: boolean;
}

const DOCKER_HUB = "docker.io";
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Parse as Docker does: a first component with a dot, a colon or "localhost" is a registry. */
export function parseImageReference(input: string): ImageReference {
  const bad = (why: string) =>
    new PyroError("IMAGE_REFERENCE_INVALID", `"${input}" is not an image reference: ${why}`, {
      hint: "Use registry/repository:tag or repository@sha256:<digest>, e.g. alpine:3.20 or 127.0.0.1:5000/tools:1.",
    });
  if (input.length === 0 || input.length > 512 || /\s/.test(input)) throw bad("empty or spaced");
  let rest = input;
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("the digest must be sha256:<64 hex>");
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`bad tag "${tag}"`);
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  const first = parts[0] ?? "";
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    parts.shift();
    if (!/^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/.test(registry)) throw bad(`bad registry "${registry}"`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  if (parts.length === 0 || !parts.every((part) => COMPONENT.test(part))) {
    throw bad("repository names are lower-case letters, digits and . _ - separators");
  }
  if (tag === null && digest === null) tag = "latest";
  const repository = parts.join("/");
  const host = registry.replace(/:[0-9]+$/, "");
  return {
    registry,
    repository,
    tag,
    digest,
    canonical: `${registry}/${repository}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`,
    loopback: host === "localhost" || host === "::1" || /^127\.[0-9.]+$/.test(host),
  };
}
