import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/paths.js";

/**
 * The layering the tree is meant to show, checked: surfaces (cli, sdk, mcp) only parse, call the
 * manager and format; they never reach the runtime, the supervisor or child processes. The
 * runtime and the protocol know nothing of workspaces or surfaces.
 */
function sources(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(dir, f));
}

function imports(file: string): string[] {
  const text = readFileSync(path.join(REPO_ROOT, file), "utf8");
  return [...text.matchAll(/^import[^;]*?from "([^"]+)"/gms)].map((m) => {
    const spec = m[1] as string;
    return spec.startsWith(".") ? path.join(path.dirname(file), spec) : spec;
  });
}

const rules: [string, RegExp][] = [
  ["src/cli", /^(src\/(runtime|supervisor|protocol\/(client|frame))|node:child_process)/],
  ["src/sdk", /^(src\/(runtime|supervisor|protocol\/(client|frame))|node:child_process)/],
  ["src/mcp", /^(src\/(runtime|supervisor|protocol\/(client|frame))|node:child_process)/],
  ["src/runtime", /^src\/(core\/(workspace|manager)|cli|sdk|mcp|supervisor)/],
  ["src/protocol", /^src\/(core\/(?!errors)|runtime|cli|sdk|mcp|supervisor)/],
];

describe("layering", () => {
  for (const [dir, forbidden] of rules) {
    it(`layering: ${dir} does not import ${forbidden.source}`, () => {
      const offenders = sources(dir).flatMap((file) =>
        imports(file)
          .filter((target) => forbidden.test(target))
          .map((target) => `${file} -> ${target}`),
      );
      expect(offenders).toEqual([]);
    });
  }
});
