import { describe, expect, it } from "vitest";
import { pathFilter } from "../../src/core/workspace/path-filter.js";

const kept = (filter: { include?: string[]; exclude?: string[] }, paths: string[]) => {
  const keep = pathFilter(filter);
  return keep === null ? paths : paths.filter(keep);
};

const TREE = [
  "src",
  "src/app.py",
  "src/__pycache__",
  "src/__pycache__/app.cpython-311.pyc",
  "build",
  "build/out/bin",
  "README.md",
  "docs/build/notes.md",
];

describe("diff path filters", () => {
  it("no filter keeps everything", () => {
    expect(pathFilter({})).toBeNull();
  });

  it("a glob without '/' matches any component, and everything below a matching directory", () => {
    expect(kept({ exclude: ["__pycache__"] }, TREE)).toEqual(
      TREE.filter((p) => !p.includes("__pycache__")),
    );
    expect(kept({ exclude: ["*.pyc"] }, TREE)).not.toContain("src/__pycache__/app.cpython-311.pyc");
  });

  it("a glob with '/' is anchored at /workspace", () => {
    expect(kept({ exclude: ["build/**"] }, TREE)).toEqual(
      TREE.filter((p) => !p.startsWith("build/")),
    );
    // docs/build is not build/ at the top.
    expect(kept({ exclude: ["build/**"] }, TREE)).toContain("docs/build/notes.md");
    expect(kept({ include: ["src/*.py"] }, TREE)).toEqual(["src/app.py"]);
    expect(kept({ include: ["/workspace/src/**"] }, TREE)).toEqual(
      TREE.filter((p) => p.startsWith("src/")),
    );
  });

  it("include and exclude combine; ** crosses directories", () => {
    expect(kept({ include: ["**/*.md"], exclude: ["docs"] }, TREE)).toEqual(["README.md"]);
  });

  it("empty patterns are refused with the flag named", () => {
    expect(() => pathFilter({ include: [""] })).toThrow(/--include/);
    expect(() => pathFilter({ exclude: ["/"] })).toThrow(/--exclude/);
  });
});
