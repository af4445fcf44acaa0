import { describe, expect, it } from "vitest";
import {
  checkGuestCwd,
  checkReadiness,
  checkServiceName,
  checkShellId,
  checkTailLines,
} from "../../src/core/workspace/shell-service-args.js";
import { probeArgv } from "../../src/supervisor/services.js";

describe("shell and service arguments", () => {
  it("args: service names follow the contract's pattern", () => {
    for (const ok of ["web", "db-1", "A.b_c", "x".repeat(64)])
      expect(checkServiceName(ok)).toBe(ok);
    for (const bad of ["", "-x", ".x", "a b", "a/b", "x".repeat(65), "é"]) {
      expect(() => checkServiceName(bad)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    }
  });

  it("args: cwd and ready-file paths resolve under /workspace and never leave it", () => {
    expect(checkGuestCwd(undefined)).toBe("/workspace");
    expect(checkGuestCwd("src")).toBe("/workspace/src");
    expect(checkReadiness({ type: "file", path: ".ready" }, "/workspace/app")).toEqual({
      type: "file",
      path: "/workspace/app/.ready",
    });
    expect(() => checkGuestCwd("../etc")).toThrow(expect.objectContaining({ code: "UNSAFE_PATH" }));
    for (const path of ["../../etc/passwd", "/etc/passwd", "../.."]) {
      expect(() => checkReadiness({ type: "file", path }, "/workspace/app")).toThrow(
        expect.objectContaining({ code: "UNSAFE_PATH" }),
      );
    }
  });

  it("args: tcp and http probes are parsed strictly", () => {
    expect(checkReadiness({ type: "tcp", address: "127.0.0.1:8080" }, "/workspace")).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
    });
    expect(
      checkReadiness({ type: "http", url: "http://localhost:3000/health?x=1" }, "/workspace"),
    ).toMatchObject({
      host: "localhost",
      port: 3000,
      path: "/health?x=1",
    });
    expect(
      checkReadiness({ type: "http", url: "http://example.test/" }, "/workspace"),
    ).toMatchObject({ port: 80, path: "/" });
    for (const address of ["8080", "host:0", "host:70000", "a/b:80", "host:80;rm"]) {
      expect(() => checkReadiness({ type: "tcp", address }, "/workspace")).toThrow(
        /HOST:PORT|port/,
      );
    }
    expect(() => checkReadiness({ type: "http", url: "https://x/" }, "/workspace")).toThrow(
      /http:\/\/ URLs only/,
    );
    expect(() => checkReadiness({ type: "bogus" }, "/workspace")).toThrow(/unknown readiness type/);
  });

  it("args: probe values are passed as arguments, never spliced into the script", () => {
    const http = checkReadiness(
      { type: "http", url: "http://127.0.0.1:8000/a'b\"c" },
      "/workspace",
    );
    expect(http).not.toBeNull();
    const argv = probeArgv(http as NonNullable<typeof http>).argv;
    expect(argv.slice(0, 2)).toEqual(["/bin/bash", "-c"]);
    expect(argv[2]).not.toContain("127.0.0.1");
    expect(argv.slice(4)).toEqual(["127.0.0.1", "8000", "/a'b%22c"]);
  });

  it("args: shell ids, tail lines", () => {
    expect(checkShellId("shell-12")).toBe("shell-12");
    expect(() => checkShellId("../x")).toThrow(
      expect.objectContaining({ code: "SHELL_NOT_FOUND" }),
    );
    expect(checkTailLines(undefined, false)).toBe(200);
    expect(checkTailLines(5, true)).toBeNull();
    expect(() => checkTailLines(-1, false)).toThrow(/tail-lines/);
  });
});
