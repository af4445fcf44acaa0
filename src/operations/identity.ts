import { z } from "zod";
import { invalidArgument } from "../core/errors.js";
import { WORKSPACE_NAME_PATTERN } from "../core/workspace/names.js";

const NOT_AN_ID = /^(?![0-9a-f]{12}$)/;

/**
 * Input fields and CLI flags for names, labels and secrets: `--name`, repeated `--label
 * KEY=VALUE`, `--secret NAME=VALUE`, `--secret-file NAME=PATH` and `--secret-env NAME[=ENVVAR]`.
 */
export const identityFields = {
  name: z
    .string()
    .regex(WORKSPACE_NAME_PATTERN, "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    // One regex, not a refine: the CLI builds a string flag only from a plain string schema.
    .regex(NOT_AN_ID, "must not be 12 hex digits (that reads as a workspace id)")
    .describe(
      "Unique workspace name (letters, digits, '.', '_', '-'; max 64; not 12 hex digits); every operation that takes a workspace id takes it too.",
    ),
  labels: z.record(z.string()).describe("Labels as an object of KEY: VALUE strings."),
  secrets: z
    .array(
      z
        .object({
          name: z
            .string()
            .describe("Secret name: letters, digits and '_', not starting with a digit."),
          value: z.string().describe("The value (exactly one of value and file_path).").optional(),
          file_path: z.string().describe("Host file holding the value (UTF-8).").optional(),
        })
        .strict(),
    )
    .describe(
      "Secrets: [{name, value} or {name, file_path}]. Kept in guest memory (/run/pyro-secrets) and a 0600 host file, redacted from every output; use secret_env to hand one to a command.",
    ),
  secretEnv: z
    .record(z.string())
    .describe(
      'Secrets to put into the environment: {SECRET_NAME: ENV_VAR}, e.g. {"API_TOKEN": "API_TOKEN"}.',
    ),
};

type FlagValues = Record<string, string | string[] | undefined>;

const listOf = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** `KEY=VALUE` words into pairs; `quiet` keeps the word out of the error (it may be a secret). */
function pairs(words: string[], flag: string, form: string, quiet: boolean): [string, string][] {
  return words.map((word) => {
    const at = word.indexOf("=");
    if (at <= 0) {
      throw invalidArgument(
        quiet ? `${flag} takes ${form}` : `${flag} takes ${form}, got ${JSON.stringify(word)}`,
        `Give ${flag} ${form}; repeat the flag for several.`,
      );
    }
    return [word.slice(0, at), word.slice(at + 1)];
  });
}

export const labelFlag = {
  flag: "--label <key=value>",
  description: "a KEY=VALUE label; repeat for several",
  field: "labels",
  repeatable: true,
} as const;

export function labelsFromFlags(values: FlagValues): { labels?: Record<string, string> } {
  const words = listOf(values.label);
  if (words.length === 0) return {};
  return { labels: Object.fromEntries(pairs(words, "--label", "KEY=VALUE", false)) };
}

export const secretFlags = [
  {
    flag: "--secret <name=value>",
    description: "a secret NAME=VALUE (redacted from all output); repeat for several",
    field: "secrets",
    repeatable: true,
  },
  {
    flag: "--secret-file <name=path>",
    description: "a secret NAME=PATH read from a host file; repeat for several",
    field: "secrets",
    repeatable: true,
  },
] as const;

export function secretsFromFlags(values: FlagValues): {
  secrets?: { name: string; value?: string; file_path?: string }[];
} {
  const literal = pairs(listOf(values.secret), "--secret", "NAME=VALUE", true);
  const files = pairs(listOf(values.secretFile), "--secret-file", "NAME=PATH", true);
  if (literal.length + files.length === 0) return {};
  return {
    secrets: [
      ...literal.map(([name, value]) => ({ name, value })),
      ...files.map(([name, file_path]) => ({ name, file_path })),
    ],
  };
}

export const secretEnvFlag = {
  flag: "--secret-env <name[=envvar]>",
  description: "put secret NAME into the environment (as NAME or ENVVAR); repeat for several",
  field: "secret_env",
  repeatable: true,
} as const;

export function secretEnvFromFlags(values: FlagValues): { secret_env?: Record<string, string> } {
  const words = listOf(values.secretEnv);
  if (words.length === 0) return {};
  return {
    secret_env: Object.fromEntries(
      words.map((word) => {
        const at = word.indexOf("=");
        return at < 0 ? [word, word] : [word.slice(0, at), word.slice(at + 1)];
      }),
    ),
  };
}
