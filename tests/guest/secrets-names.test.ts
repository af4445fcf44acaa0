import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pyro } from "../../src/index.js";
import { command, parseJson, pyro, type CliResult } from "../support/cli.js";
import { cliJson, errorCode } from "../support/shells.js";
import { stateDir } from "../support/workspace.js";
import { mcpClient } from "../support/mcp.js";

/**
 * Secrets (2.9) and names and labels (3.3) through real guests: one workspace for the whole file,
 * created through the CLI with a name, labels, a literal secret and a file secret.
 */
const VALUE = "tok-5ecr3t-8c1f2a";
const FILE_VALUE = "file-s3cret-77e0d";
const NAME = "secrets-demo";
const home = mkdtempSync(path.join(os.tmpdir(), "pyro-secret-"));
const secretFile = path.join(home, "token.txt");
writeFileSync(secretFile, FILE_VALUE);

let id = "";
/** Every output any case saw, checked for the values at the end. */
const outputs: string[] = [];
const seen = (result: CliResult): CliResult => {
  outputs.push(result.stdout, result.stderr);
  return result;
};
const run = async (args: string[]) => seen(await pyro(args));

beforeAll(async () => {
  const created = await run([
    "workspace",
    "create",
    "debian:12",
    "--name",
    NAME,
    "--label",
    "issue=123",
    "--label",
    "team=core",
    "--secret",
    `API_TOKEN=${VALUE}`,
    "--secret-file",
    `FILE_TOKEN=${secretFile}`,
    "--json",
  ]);
  if (created.status !== 0) throw new Error(`create failed: ${created.stdout}${created.stderr}`);
  id = parseJson<{ workspace_id: string }>(created.stdout).workspace_id;
});

afterAll(async () => {
  if (id) await pyro(["workspace", "delete", id]);
});

describe("secrets", () => {
  it("secrets: status shows names only and the host file is the owner's alone", async () => {
    const status = await run(["workspace", "status", NAME, "--json"]);
    const record = parseJson<{ name: string; labels: object; secrets: object[] }>(status.stdout);
    expect(record.name).toBe(NAME);
    expect(record.labels).toEqual({ issue: "123", team: "core" });
    expect(record.secrets).toEqual([
      { name: "API_TOKEN", source_kind: "literal" },
      { name: "FILE_TOKEN", source_kind: "file" },
    ]);
    const file = path.join(stateDir(), "workspaces", id, "secrets.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("secrets: --secret-env hands a secret to exec; streamed output, result and journal are redacted, also split across chunks", async () => {
    const exec = await run([
      "workspace",
      "exec",
      NAME,
      "--secret-env",
      "API_TOKEN",
      "--secret-env",
      "FILE_TOKEN=FT",
      "--",
      "sh",
      "-c",
      // Each value is printed in two writes a second apart: two chunks on the wire.
      `test "$API_TOKEN" = '${VALUE}' && test "$FT" = '${FILE_VALUE}' || exit 9
       printf '%s' "$API_TOKEN" | head -c 7; sleep 1; printf '%s\\n' "$API_TOKEN" | tail -c +8
       printf '%s' "$FT" | head -c 5 >&2; sleep 1; printf '%s\\n' "$FT" | tail -c +6 >&2
       ls /run/pyro-secrets; grep -c pyro-secrets /proc/mounts`,
    ]);
    expect(exec.status).toBe(0);
    expect(exec.stdout).toBe("[REDACTED]\nAPI_TOKEN\nFILE_TOKEN\n1\n");
    expect(exec.stderr).toContain("[REDACTED]\n");
    // Without --secret-env a command does not see the secret in its environment.
    const plain = await run(["workspace", "exec", NAME, "--", "sh", "-c", 'echo "[$API_TOKEN]"']);
    expect(plain.stdout).toBe("[]\n");
    const logs = await run(["workspace", "logs", NAME, "--json"]);
    expect(logs.stdout).toContain("[REDACTED]");
  });

  it("secrets: shell reads are redacted, a value split across two reads too", async () => {
    const open = await cliJson<{ shell_id: string }>([
      "workspace",
      "shell",
      "open",
      NAME,
      "--secret-env",
      "API_TOKEN",
    ]);
    await run([
      "workspace",
      "shell",
      "write",
      NAME,
      open.shell_id,
      "--input",
      `printf '%s' "$API_TOKEN" | head -c 6; sleep 3; printf '%s\\n' "$API_TOKEN" | tail -c +7; echo done-$((6*7))`,
    ]);
    let cursor = 0;
    let text = "";
    const deadline = Date.now() + 60_000;
    while (!text.includes("done-42") && Date.now() < deadline) {
      const read = seen(
        await pyro([
          "workspace",
          "shell",
          "read",
          NAME,
          open.shell_id,
          "--cursor",
          String(cursor),
          "--json",
        ]),
      );
      const chunk = parseJson<{ output: string; next_cursor: number }>(read.stdout);
      text += chunk.output;
      cursor = chunk.next_cursor;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(text).toContain("done-42");
    expect(text).toContain("[REDACTED]");
    expect(text).not.toContain(VALUE.slice(0, 6));
  });

  it("secrets: service logs and a failing service's error are redacted", async () => {
    const started = await run([
      "workspace",
      "service",
      "start",
      NAME,
      "web",
      "--secret-env",
      "API_TOKEN",
      "--",
      "sh",
      "-c",
      'echo "out=$API_TOKEN"; echo "err=$API_TOKEN" >&2; sleep 600',
    ]);
    expect(started.status).toBe(0);
    const logs = parseJson<{ stdout: string; stderr: string }>(
      (await run(["workspace", "service", "logs", NAME, "web", "--json"])).stdout,
    );
    expect(logs.stdout).toBe("out=[REDACTED]\n");
    expect(logs.stderr).toBe("err=[REDACTED]\n");
    const failed = await run([
      "workspace",
      "service",
      "start",
      NAME,
      "bad",
      "--secret-env",
      "API_TOKEN",
      "--ready-command",
      "false",
      "--ready-timeout-seconds",
      "2",
      "--json",
      "--",
      "sh",
      "-c",
      'echo "bad=$API_TOKEN"; sleep 600',
    ]);
    expect(errorCode(failed)).toBe("SERVICE_FAILED");
    expect(failed.stdout).toContain("bad=[REDACTED]");
  });

  it("secrets: bad input is a typed error that never echoes the value", async () => {
    const wrong = "hunter2-never-echoed";
    // The CLI's own parsing of NAME=VALUE, then the core's checks through the SDK (in process).
    for (const flags of [["--secret", wrong], ["--secret", `1BAD=${wrong}`]]) {
      const result = await pyro(["workspace", "create", "debian:12", ...flags, "--json"]);
      expect(errorCode(result), flags.join(" ")).toBe("INVALID_ARGUMENT");
      expect(`${result.stdout}${result.stderr}`, flags.join(" ")).not.toContain(wrong);
    }
    const sdk = new Pyro();
    const cases: [{ name: string; value?: string; file_path?: string }[], string][] = [
      [[{ name: "EMPTY", value: "" }], "INVALID_ARGUMENT"],
      [[{ name: "bad-name", value: wrong }], "INVALID_ARGUMENT"],
      [
        [
          { name: "A", value: wrong },
          { name: "A", value: wrong },
        ],
        "INVALID_ARGUMENT",
      ],
      [[{ name: "F", file_path: path.join(home, "missing") }], "SECRET_FILE_UNREADABLE"],
      [[{ name: "F", file_path: home }], "SECRET_FILE_UNREADABLE"],
    ];
    for (const [secrets, code] of cases) {
      const error = await sdk
        .createWorkspace({ environment: "debian:12", secrets })
        .then(() => undefined, (e: unknown) => e as { code: string; message: string; hint: string });
      expect(error?.code, JSON.stringify(secrets)).toBe(code);
      expect(`${error?.message} ${error?.hint}`).not.toContain(wrong);
    }
    const unknown = await run(["workspace", "exec", NAME, "--secret-env", "NOPE", "--json", "--", "true"]);
    expect(errorCode(unknown)).toBe("SECRET_NOT_FOUND");
    expect(unknown.stdout).toContain("API_TOKEN, FILE_TOKEN");
    // MCP: the same check, the value of a mistyped secret not echoed either.
    const client = await mcpClient();
    try {
      const result = await client.callTool({
        name: "workspace_create",
        arguments: { environment: "debian:12", secrets: [{ name: "X", value: 42 }] },
      });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).not.toContain("42");
    } finally {
      await client.close();
    }
  });

  it("secrets: reset puts them back in the guest; diff never sees them", async () => {
    const reset = await run(["workspace", "reset", NAME]);
    expect(reset.status).toBe(0);
    const exec = await run([
      "workspace",
      "exec",
      NAME,
      "--secret-env",
      "API_TOKEN",
      "--",
      "sh",
      "-c",
      `test "$(cat /run/pyro-secrets/API_TOKEN)" = "$API_TOKEN" && test "$API_TOKEN" = '${VALUE}' && echo same`,
    ]);
    expect(exec.stdout).toBe("same\n");
    const diff = parseJson<{ changed: boolean }>(
      (await run(["workspace", "diff", NAME, "--json"])).stdout,
    );
    expect(diff.changed).toBe(false);
  });

  it("secrets: stop and start keep them; the saved memory is the owner's only and gone after start", async () => {
    expect((await run(["workspace", "stop", NAME])).status).toBe(0);
    const saved = path.join(stateDir(), "workspaces", id, "vm", "memory.state");
    // Guest memory holds the tmpfs (docs/secrets.md says so): readable by the owner only.
    expect(statSync(saved).mode & 0o777).toBe(0o600);
    expect((await run(["workspace", "start", NAME])).status).toBe(0);
    expect(existsSync(saved)).toBe(false);
    const exec = await run([
      "workspace",
      "exec",
      NAME,
      "--secret-env",
      "FILE_TOKEN",
      "--",
      "sh",
      "-c",
      `test "$(cat /run/pyro-secrets/FILE_TOKEN)" = '${FILE_VALUE}' && test "$FILE_TOKEN" = '${FILE_VALUE}' && echo kept`,
    ]);
    expect(exec.stdout).toBe("kept\n");
  });

  it("secrets: no file under the state directory but secrets.json, and no output, holds a value", async () => {
    // baseline.ext4 is built from the seed before any secret is read, and is read-only; it is
    // 8 GiB of holes that grep would read for minutes.
    const grep = await command("grep", [
      "-rlaF",
      "--exclude=secrets.json",
      "--exclude=baseline.ext4",
      "-e",
      VALUE,
      "-e",
      FILE_VALUE,
      stateDir(),
    ]);
    expect(grep.stdout).toBe("");
    expect(grep.status).toBe(1);
    for (const output of outputs) {
      expect(output).not.toContain(VALUE);
      expect(output).not.toContain(FILE_VALUE);
    }
    expect(outputs.join("").length).toBeGreaterThan(1000);
  });
});


describe("names and labels", () => {
  it("names: the CLI lists names and labels, filters by label and takes the name anywhere", async () => {
    const list = await run(["workspace", "list", "--label", "issue=123"]);
    expect(list.stdout).toContain(`${id}  ${NAME}  debian:12`);
    const none = await cliJson<{ count: number }>(["workspace", "list", "--label", "issue=999"]);
    expect(none.count).toBe(0);
    const snap = await run(["workspace", "snapshot", "list", NAME, "--json"]);
    expect(snap.status).toBe(0);
    const taken = await pyro(["workspace", "create", "debian:12", "--name", NAME, "--json"]);
    expect(errorCode(taken)).toBe("WORKSPACE_NAME_TAKEN");
    const idLike = await pyro(["workspace", "create", "debian:12", "--name", "abcdef012345", "--json"]);
    expect(errorCode(idLike)).toBe("INVALID_ARGUMENT");
    const missing = await pyro(["workspace", "status", "no-such-name", "--json"]);
    expect(errorCode(missing)).toBe("WORKSPACE_NOT_FOUND");
  });

  it("names: the SDK renames and relabels; the old name is gone", async () => {
    const sdk = new Pyro();
    const updated = await sdk.updateWorkspace(NAME, {
      name: "secrets-renamed",
      labels: { stage: "review" },
      clearLabels: ["team"],
    });
    expect(updated.name).toBe("secrets-renamed");
    expect(updated.labels).toEqual({ issue: "123", stage: "review" });
    await expect(sdk.statusWorkspace(NAME)).rejects.toMatchObject({ code: "WORKSPACE_NOT_FOUND" });
    const listed = await sdk.listWorkspaces({ labels: { stage: "review" } });
    expect(listed.workspaces.map((w) => w.workspace_id)).toEqual([id]);
    await expect(sdk.updateWorkspace(id, { labels: { "bad key": "x" } })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("names: MCP tools take the name, and workspace_update renames back", async () => {
    const client = await mcpClient();
    try {
      const status = await client.callTool({
        name: "workspace_status",
        arguments: { workspace_id: "secrets-renamed" },
      });
      expect((status.structuredContent as { workspace_id: string }).workspace_id).toBe(id);
      const update = await client.callTool({
        name: "workspace_update",
        arguments: { workspace_id: id, name: NAME, clear_labels: ["stage"] },
      });
      expect((update.structuredContent as { name: string }).name).toBe(NAME);
      const list = await client.callTool({
        name: "workspace_list",
        arguments: { labels: { issue: "123" } },
      });
      const workspaces = (list.structuredContent as { workspaces: { name: string }[] }).workspaces;
      expect(workspaces.map((w) => w.name)).toEqual([NAME]);
      const exec = await client.callTool({
        name: "workspace_exec",
        arguments: {
          workspace_id: NAME,
          command: 'printf "%s" "$T"',
          secret_env: { API_TOKEN: "T" },
        },
      });
      expect((exec.structuredContent as { stdout: string }).stdout).toBe("[REDACTED]");
    } finally {
      await client.close();
    }
  });
});
