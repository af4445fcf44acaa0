import { PyroError } from "../core/errors.js";
import { VERSION } from "../version.js";

/**
 * The environments pyro knows how to build. Each is built locally from Debian packages
 * (debootstrap, minbase variant) plus Debian's cloud kernel; names are stable identifiers.
 */
export interface CatalogEntry {
  name: string;
  version: string;
  description: string;
  distribution: string;
  distribution_version: string;
  suite: string;
  default_packages: string[];
  /** Extra packages passed to debootstrap --include. */
  include: string[];
  rootfs_size_mib: number;
}

export const CATALOG_VERSION = VERSION;
export const ENVIRONMENT_VERSION = "1.0.0";

export const CATALOG: readonly CatalogEntry[] = [
  {
    name: "debian:12",
    version: ENVIRONMENT_VERSION,
    description: "Debian 12 with Git preinstalled for common agent workflows.",
    distribution: "debian",
    distribution_version: "12",
    suite: "bookworm",
    default_packages: ["bash", "coreutils", "git"],
    include: ["git", "ca-certificates"],
    rootfs_size_mib: 4096,
  },
  {
    name: "debian:12-base",
    version: ENVIRONMENT_VERSION,
    description: "Minimal Debian 12 for shell and core Unix tooling.",
    distribution: "debian",
    distribution_version: "12",
    suite: "bookworm",
    default_packages: ["bash", "coreutils"],
    include: ["ca-certificates"],
    rootfs_size_mib: 4096,
  },
  {
    name: "debian:12-build",
    version: ENVIRONMENT_VERSION,
    description: "Debian 12 with Git and common build tools (build-essential) preinstalled.",
    distribution: "debian",
    distribution_version: "12",
    suite: "bookworm",
    default_packages: ["bash", "coreutils", "git", "build-essential"],
    include: ["git", "ca-certificates", "build-essential", "pkg-config"],
    rootfs_size_mib: 6144,
  },
];

export const DEFAULT_ENVIRONMENT = "debian:12";

export function catalogEntry(name: string): CatalogEntry {
  const entry = CATALOG.find((candidate) => candidate.name === name);
  if (!entry) {
    const known = CATALOG.map((candidate) => candidate.name).join(", ");
    throw new PyroError("UNKNOWN_ENVIRONMENT", `unknown environment "${name}"`, {
      hint: `Use one of: ${known} (see \`pyro env list\`).`,
      details: { known: CATALOG.map((candidate) => candidate.name) },
    });
  }
  return entry;
}

/** Directory name of an installed environment: "debian:12" -> "debian_12". */
export const installDirName = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, "_");
