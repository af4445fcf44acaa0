import { z } from "zod";
import { DEFAULTS, LIMITS } from "../contract.js";
import { SNAPSHOT_NAME_PATTERN } from "../core/workspace/snapshots.js";
import { SERVICE_NAME_PATTERN } from "../core/workspace/shell-service-args.js";
import { NETWORK_POLICIES } from "../core/network/policy.js";

/**
 * Input fields shared by several operations, with their ranges and patterns in the schema itself
 * (so MCP clients see them in `inputSchema` and every surface rejects the same values).
 */
export function wholeNumber(range: { min: number; max: number }, description: string) {
  const rule = `must be a whole number from ${range.min} to ${range.max}`;
  return z
    .number({ invalid_type_error: "expected a whole number" })
    .int(rule)
    .min(range.min, rule)
    .max(range.max, rule)
    .describe(description);
}

/** A shell command string: not empty, no NUL bytes. */
export const commandString = (description: string) =>
  z
    .string()
    .refine((s) => s.trim() !== "", "must not be empty")
    .refine((s) => !s.includes("\0"), "must not contain a NUL byte")
    .describe(description);

export const fields = {
  environment: z.string().min(1).describe("Environment name, e.g. debian:12 (see `env list`)."),
  vcpuCount: wholeNumber(LIMITS.vcpuCount, `Virtual CPUs (default ${DEFAULTS.vcpuCount}).`),
  memMib: wholeNumber(LIMITS.memMib, `Memory in MiB (default ${DEFAULTS.memMib}).`),
  timeoutSeconds: wholeNumber(
    LIMITS.timeoutSeconds,
    `Command timeout in seconds (default ${DEFAULTS.timeoutSeconds}); a command killed by it exits 124.`,
  ),
  ttlSeconds: wholeNumber(
    LIMITS.ttlSeconds,
    `Seconds until it expires and is removed (default ${DEFAULTS.ttlSeconds}).`,
  ),
  network: z
    .boolean()
    .describe(
      "Give the guest outbound network access: the older spelling of network_policy egress.",
    ),
  networkPolicy: z
    .enum(NETWORK_POLICIES)
    .describe(
      "off (default: no network interface), egress (outbound only, QEMU user-mode networking) or egress+published-ports (egress, and services may publish ports on the host's 127.0.0.1).",
    ),
  allowHostCompat: z
    .boolean()
    .describe(
      "When this host cannot boot a guest, run on the host instead (execution_mode host_compat: NO isolation). Refused without it.",
    ),
  workspaceId: z
    .string()
    .describe(
      "Workspace id (12 hex digits), as returned by workspace create, or the workspace's unique name.",
    ),
  snapshotName: z
    .string()
    .regex(SNAPSHOT_NAME_PATTERN, "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    .describe("Snapshot name: letters, digits, '.', '_', '-' (max 64); 'baseline' is reserved."),
  shellId: z.string().describe("Shell id, as returned by shell open (e.g. shell-1)."),
  serviceName: z
    .string()
    .regex(SERVICE_NAME_PATTERN, "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    .describe("Service name: letters, digits, '.', '_', '-' (max 64), e.g. web."),
  guestCwd: z.string().describe("Working directory under /workspace (default /workspace)."),
} as const;

/** The guest a workspace or VM is created with: environment, resources, TTL, network, host compat. */
export const guestSpec = {
  environment: fields.environment,
  vcpu_count: fields.vcpuCount.optional(),
  mem_mib: fields.memMib.optional(),
  ttl_seconds: fields.ttlSeconds.optional(),
  network: fields.network.optional(),
  allow_host_compat: fields.allowHostCompat.optional(),
};
