/**
 * Constants of the public contract: defaults and accepted ranges. The operations themselves (names
 * on every surface, flags, fields, schemas) are declared once in src/operations/; the contract
 * test holds the CLI, SDK, MCP server and docs/public-contract.md to those declarations.
 */

/** Defaults shared by every surface. */
export const DEFAULTS = {
  vcpuCount: 1,
  memMib: 1024,
  timeoutSeconds: 30,
  ttlSeconds: 600,
} as const;

/** Shell defaults: a 120x30 terminal in /workspace, reads of up to 64 Ki characters. */
export const SHELL_DEFAULTS = { cols: 120, rows: 30, maxChars: 65_536 } as const;

/** Service defaults: readiness polled every 500 ms for up to 30 s; logs show the last 200 lines. */
export const SERVICE_DEFAULTS = {
  readyTimeoutSeconds: 30,
  readyIntervalMs: 500,
  tailLines: 200,
  stopGraceSeconds: 5,
} as const;

/** Accepted ranges, enforced by the manager so every surface rejects the same input. */
export const LIMITS = {
  vcpuCount: { min: 1, max: 16 },
  memMib: { min: 256, max: 32768 },
  timeoutSeconds: { min: 1, max: 86_400 },
  ttlSeconds: { min: 1, max: 604_800 },
} as const;
