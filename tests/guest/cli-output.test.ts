import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, pyro, qemuProcesses } from "../support/cli.js";
import { CLI } from "../support/paths.js";
import { createWorkspace, stateDir, wsExec, type Record_ } from "../support/workspace.js";

/** What a user sees at the terminal: guest text made inert, a closed pipe ending pyro quietly. */
let ws: Record_;

beforeAll(async () => {
  ws = await createWorkspace();
});

afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", ws.workspace_id]);
});

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u;

/** Run `pyro ARGS | head -c BYTES` in bash; returns what head printed and pyro's exit status. */
function pipeToHead(
  args: string[],
  bytes: number,
): Promise<{ stdout: string; stderr: string; status: number }> {
  const quoted = [process.execPath, CLI, ...args].map((w) => `'${w.replace(/'/g, `'"'"'`)}'`);
  const script = `${quoted.join(" ")} | head -c ${bytes}; echo "<status=\${PIPESTATUS[0]}>"`;
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", () => {
      const match = /<status=(\d+)>\n$/.exec(stdout);
      resolve({
        stdout: stdout.replace(/<status=\d+>\n$/, ""),
        stderr,
        status: match ? Number(match[1]) : -1,
      });
    });
  });
}

describe("cli output", () => {
  it("diff: a file name holding ESC[31m and a BEL is printed escaped; --json stays exact", async () => {
    const made = await wsExec(
      ws.workspace_id,
      `printf 'x\\033[2J\\n' > "$(printf 'evil\\033[31mred\\007')"; mkdir "$(printf 'dir\\033]0;title\\007')"`,
    );
    expect(made.status).toBe(0);
    const human = await pyro(["workspace", "diff", ws.workspace_id]);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain("evil\\x1b[31mred\\x07");
    expect(human.stdout).toContain("+x\\x1b[2J");
    expect(human.stdout).toContain("added directory dir\\x1b]0;title\\x07");
    expect(human.stdout).not.toMatch(RAW_CONTROL);
    expect(human.stderr).not.toMatch(RAW_CONTROL);
    const json = parseJson<{ entries: { path: string }[] }>(
      (await pyro(["workspace", "diff", ws.workspace_id, "--json"])).stdout,
    );
    expect(json.entries.map((e) => e.path).sort()).toEqual([
      "dir\u001b]0;title\u0007",
      "evil\u001b[31mred\u0007",
    ]);
  });

  it("logs: stored output and commands are printed escaped; --json stays exact", async () => {
    await wsExec(ws.workspace_id, "printf 'a\\033]0;pwned\\007b\\n'; printf 'e\\033[1K\\n' >&2");
    const human = await pyro(["workspace", "logs", ws.workspace_id]);
    expect(human.status).toBe(0);
    expect(human.stdout).toContain("a\\x1b]0;pwned\\x07b\n");
    expect(human.stderr).toContain("e\\x1b[1K\n");
    expect(human.stdout).not.toMatch(RAW_CONTROL);
    expect(human.stderr).not.toMatch(RAW_CONTROL);
    const json = parseJson<{ entries: { stdout: string }[] }>(
      (await pyro(["workspace", "logs", ws.workspace_id, "--json"])).stdout,
    );
    expect(json.entries.at(-1)?.stdout).toBe("a\u001b]0;pwned\u0007b\n");
  });

  it("exec: live output stays the command's own bytes", async () => {
    const result = await wsExec(ws.workspace_id, "printf 'c\\033[32mg\\n'");
    expect(result.stdout).toBe("c\u001b[32mg\n");
  });

  it("exec: `exec -- seq 1 100000 | head -c 20` ends quietly with status 141", async () => {
    const result = await pipeToHead(["workspace", "exec", ws.workspace_id, "--", "seq", "1", "100000"], 20);
    expect(result.stdout).toBe("1\n2\n3\n4\n5\n6\n7\n8\n9\n10");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(141);
  });

  it("exec: a closed stdout ends the remote command too", async () => {
    const result = await pipeToHead(
      ["workspace", "exec", ws.workspace_id, "--", "sh", "-c", "exec yes pyro-epipe"],
      100,
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(141);
    // The supervisor kills a departed client's processes; give it a moment, then look.
    let left = "";
    for (let i = 0; i < 20; i++) {
      left = (await wsExec(ws.workspace_id, "pgrep -a yes || true")).stdout;
      if (!left.includes("pyro-epipe")) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(left).not.toContain("pyro-epipe");
  });

  it("run: a closed stdout cancels the run quietly and tears its VM down", async () => {
    const before = qemuProcesses(stateDir()).length;
    const result = await pipeToHead(["run", "debian:12", "--", "yes"], 20);
    expect(result.stdout).toBe("y\n".repeat(10));
    expect(result.stderr).not.toMatch(/EPIPE|Error|INTERNAL|\s{4}at /);
    expect(result.status).toBe(141);
    expect(qemuProcesses(stateDir()).length).toBe(before);
  });
});
