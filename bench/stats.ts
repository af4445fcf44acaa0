import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI the benchmarks run (`make build` first). */
export const BENCH_CLI = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "dist",
  "src",
  "cli",
  "main.js",
);

/** Wall time of one awaited action, in ms. */
export async function timed(action: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await action();
  return performance.now() - start;
}

/** Summary statistics shared by the benchmarks. */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export const p95 = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.95) - 1] as number;

export const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

/** A seed tree of `files` text files (50 folders) holding about `bytes` bytes in all. */
export function seedTree(root: string, files: number, bytes: number): string {
  mkdirSync(root, { recursive: true });
  const per = Math.max(1, Math.floor(bytes / files));
  for (let i = 0; i < files; i += 1) {
    const dir = path.join(root, `d${i % 50}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `f${i}.txt`), `${"x".repeat(Math.max(0, per - 12))}line ${i}\n`);
  }
  return root;
}
