import { describe, expect, it } from "vitest";
import { formatJson, shellJoin } from "../../src/cli/output.js";

describe("cli helpers", () => {
  it("shell join: keeps plain words and quotes the rest so sh sees the same argv", () => {
    expect(shellJoin(["git", "--version"])).toBe("git --version");
    expect(shellJoin(["sh", "-c", "exit 7"])).toBe("sh -c 'exit 7'");
    expect(shellJoin(["echo", "it's"])).toBe(`echo 'it'"'"'s'`);
    expect(shellJoin(["printf", ""])).toBe("printf ''");
    expect(shellJoin(["echo", "$HOME"])).toBe("echo '$HOME'");
  });

  it("json output: keys sorted at every level, two-space indent", () => {
    expect(formatJson({ b: 1, a: { d: 2, c: [{ f: 1, e: 0 }] } })).toBe(
      '{\n  "a": {\n    "c": [\n      {\n        "e": 0,\n        "f": 1\n      }\n    ],\n    "d": 2\n  },\n  "b": 1\n}',
    );
  });
});
