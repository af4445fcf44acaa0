import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PyroError, toPyroError } from "../../src/core/errors.js";

/** Real host errno errors, as Node raises them, reach users as typed errors, not INTERNAL. */
describe("host errno errors", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "pyro-errno-"));
    await fs.writeFile(path.join(dir, "file"), "x");
  });
  afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

  const caught = async (action: () => Promise<unknown>): Promise<PyroError> => {
    try {
      await action();
    } catch (error) {
      return toPyroError(error);
    }
    throw new Error("expected the action to fail");
  };

  it("errno: a missing file is HOST_IO_ERROR naming the path, with a hint", async () => {
    const missing = path.join(dir, "missing", "f");
    const error = await caught(() => fs.readFile(missing));
    expect(error.code).toBe("HOST_IO_ERROR");
    expect(error.message).toContain(missing);
    expect(error.message).toContain("ENOENT");
    expect(error.hint).toContain(missing);
    expect(error.details).toMatchObject({ errno: "ENOENT", syscall: "open", path: missing });
  });

  it("errno: not a directory, is a directory, already exists, name too long", async () => {
    const file = path.join(dir, "file");
    const cases: [() => Promise<unknown>, string][] = [
      [() => fs.mkdir(path.join(file, "sub")), "ENOTDIR"],
      [() => fs.readFile(dir), "EISDIR"],
      [() => fs.mkdir(file), "EEXIST"],
      [() => fs.writeFile(path.join(dir, "n".repeat(300)), "x"), "ENAMETOOLONG"],
    ];
    for (const [action, errno] of cases) {
      const error = await caught(action);
      expect(error.code, errno).toBe("HOST_IO_ERROR");
      expect(error.message, errno).toContain(errno);
      expect(error.hint, errno).toBeTruthy();
      expect(error.hint, errno).not.toContain("bug in pyro");
    }
  });

  it("errno: a read-only file system and a full disk are named with their fix", () => {
    const rofs = toPyroError(
      Object.assign(new Error("EROFS: read-only file system, open '/ro/x'"), {
        code: "EROFS",
        syscall: "open",
        path: "/ro/x",
      }),
    );
    expect(rofs.code).toBe("HOST_IO_ERROR");
    expect(rofs.hint).toMatch(/writable location/);
    const full = toPyroError(
      Object.assign(new Error("ENOSPC: no space left on device, write"), {
        code: "ENOSPC",
        syscall: "write",
      }),
    );
    expect(full.code).toBe("HOST_IO_ERROR");
    expect(full.message).toContain("no space left on device");
    expect(full.hint).toMatch(/Free space/);
  });

  it("errno: real bugs stay INTERNAL, typed errors pass through unchanged", () => {
    expect(toPyroError(new TypeError("x is undefined")).code).toBe("INTERNAL");
    expect(toPyroError(Object.assign(new Error("odd"), { code: "ERR_SOMETHING_ELSE" })).code).toBe(
      "INTERNAL",
    );
    const typed = new PyroError("SNAPSHOT_NOT_FOUND", "no snapshot", { hint: "list them" });
    expect(toPyroError(typed)).toBe(typed);
  });
});
