import { PyroError } from "../errors.js";

/**
 * The environment a shell or service request carries to the supervisor (secrets asked for with
 * --secret-env): an object of strings with variable-like keys, bounded; anything else is refused.
 * Values are never echoed.
 */
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ENV_ENTRIES = 64;
const MAX_ENV_VALUE_BYTES = 64 * 1024;

export function checkExecEnv(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  const bad = () =>
    new PyroError("INVALID_ARGUMENT", "env must be an object of variable names to strings", {
      hint: "Use --secret-env NAME[=ENVVAR].",
    });
  if (typeof value !== "object" || Array.isArray(value)) throw bad();
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_ENV_ENTRIES) throw bad();
  const env: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (
      !ENV_KEY.test(key) ||
      typeof item !== "string" ||
      item.includes("\0") ||
      Buffer.byteLength(item) > MAX_ENV_VALUE_BYTES
    ) {
      throw bad();
    }
    env[key] = item;
  }
  return env;
}
