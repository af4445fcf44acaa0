import { describe, expect, it } from "vitest";
import { parseJson, pyro } from "../support/cli.js";

type ErrorPayload = { error: { code: string; message: string; hint?: string } };

/** The CLI built from the declarations: one validation path, JSON errors under --json. */
describe("cli from declarations", () => {
  it("cli: an argument-parse error under --json is one JSON object on stdout, exit 1", async () => {
    for (const args of [
      ["run", "debian:12", "--bogus", "--json", "--", "true"],
      ["workspace", "status", "--json"],
      ["workspace", "nope", "--json"],
    ]) {
      const result = await pyro(args);
      expect(result.status, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toBe("");
      const { error } = parseJson<ErrorPayload>(result.stdout);
      expect(error.code, args.join(" ")).toBe("INVALID_ARGUMENT");
      expect(error.hint, args.join(" ")).toContain("--help");
    }
  });

  it("cli: flag values are validated by the declaration's schema and named as flags", async () => {
    const resize = await pyro([
      "workspace",
      "shell",
      "resize",
      "0123456789ab",
      "shell-1",
      "--cols",
      "5000",
      "--rows",
      "40",
      "--json",
    ]);
    expect(parseJson<ErrorPayload>(resize.stdout).error).toMatchObject({
      code: "INVALID_ARGUMENT",
      message: "--cols must be a whole number from 1 to 1000, got 5000",
    });
    const missing = await pyro(["workspace", "export", "0123456789ab", "a.txt", "--json"]);
    expect(parseJson<ErrorPayload>(missing.stdout).error.message).toBe("--output is required");
    const signal = await pyro([
      "workspace",
      "shell",
      "signal",
      "0123456789ab",
      "shell-1",
      "--signal",
      "USR1",
    ]);
    expect(signal.status).toBe(1);
    expect(signal.stderr).toContain('--signal must be one of HUP, INT, TERM, KILL, got "USR1"');
    const snapshot = await pyro([
      "workspace",
      "snapshot",
      "create",
      "0123456789ab",
      "../x",
      "--json",
    ]);
    expect(parseJson<ErrorPayload>(snapshot.stdout).error.message).toMatch(
      /^SNAPSHOT_NAME must match/,
    );
  });

  it("cli: help is generated from the declarations' descriptions", async () => {
    const help = await pyro(["workspace", "exec", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("recorded in the command journal");
    expect(help.stdout).toContain("--timeout-seconds <n>");
    expect(help.stdout).toContain("pyro workspace exec WORKSPACE_ID -- sh -c 'make test'");
  });
});
