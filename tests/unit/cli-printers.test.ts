import { afterEach, describe, expect, it, vi } from "vitest";
import { printWorkspaceSummary } from "../../src/operations/workspace.js";
import { OPERATIONS } from "../../src/operations/index.js";
import { reportError } from "../../src/cli/output.js";
import { PyroError } from "../../src/core/errors.js";
import type { WorkspaceRecord } from "../../src/core/workspace/record.js";

// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u;

function capture(stream: NodeJS.WriteStream): () => string {
  let text = "";
  vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
    text += chunk.toString();
    return true;
  });
  return () => text;
}

/** The printers that carry record fields and error messages make guest text inert. */
describe("cli printers", () => {
  afterEach(() => vi.restoreAllMocks());

  it("status: a last_error quoting guest text is printed escaped", () => {
    const record: WorkspaceRecord = {
      schema_version: 1,
      workspace_id: "0123456789ab",
      environment: "debian:12",
      state: "crashed",
      created_at: "2026-11-27T00:00:00Z",
      expires_at: "2026-11-27T00:10:00Z",
      ttl_seconds: 600,
      vcpu_count: 1,
      mem_mib: 1024,
      network: false,
      network_policy: "off",
      workspace_path: "/workspace",
      workspace_seed: {
        mode: "directory",
        seed_path: "/tmp/seed\u001b[8m",
        destination: "/workspace",
        entry_count: 1,
        bytes_written: 2,
      },
      command_count: 0,
      reset_count: 0,
      last_reset_at: null,
      last_error: "guest said \u001b]0;owned\u0007\r\nfake line",
      execution_mode: "guest_agent",
      accelerator: "tcg",
      service_count: 0,
      running_service_count: 0,
    };
    const text = printWorkspaceSummary(record).stdout ?? "";
    expect(text).toContain("Last error: guest said \\x1b]0;owned\\x07\\r\\nfake line\n");
    expect(text).toContain("Seed: directory /tmp/seed\\x1b[8m");
    expect(text).not.toMatch(RAW_CONTROL);
  });

  it("diff and logs: guest names and stored output are escaped, layout kept", () => {
    const diff = OPERATIONS.diffWorkspace.print({
      workspace_id: "0123456789ab",
      changed: true,
      summary: { total: 1, added: 1, modified: 0, deleted: 0, type_changed: 0 },
      entries: [
        { path: "evil\u001b[2J", status: "added", artifact_type: "file", text_patch: null },
      ],
      patch: "+line\u001b]0;x\u0007\n\tindented\n",
    } as never);
    expect(diff.stdout).toContain("+line\\x1b]0;x\\x07\n\tindented\n");
    expect(diff.stdout).toContain("added file evil\\x1b[2J\n");
    expect(diff.stdout).not.toMatch(RAW_CONTROL);
    const logs = OPERATIONS.logsService.print({
      workspace_id: "0123456789ab",
      service_name: "web",
      stdout: "ok\u001b[31m\n",
      stderr: "\u009bbad\n",
    } as never);
    expect(`${logs.stdout ?? ""}${logs.stderr ?? ""}`).toBe("ok\\x1b[31m\n\\x9bbad\n");
  });

  it("errors: human error messages, hints and guest log tails are escaped", () => {
    const err = capture(process.stderr);
    const status = reportError(
      new PyroError("GUEST_ERROR", "tar: \u001b[2Jname\u202e: Cannot open", {
        hint: "Check \u0007it",
        details: { serial_log_tail: "line 1\n\u001b[31mline 2" },
      }),
      false,
    );
    expect(status).toBe(1);
    const text = err();
    expect(text).toContain("error: tar: \\x1b[2Jname\\u202e: Cannot open\n");
    expect(text).toContain("hint: Check \\x07it\n");
    expect(text).toContain("line 1\n\\x1b[31mline 2\n");
    expect(text).not.toMatch(RAW_CONTROL);
  });

  it("errors: --json keeps the exact text (JSON escapes it)", () => {
    const out = capture(process.stdout);
    reportError(new PyroError("GUEST_ERROR", "bad \u001b name"), true);
    expect(JSON.parse(out())).toEqual({
      error: { code: "GUEST_ERROR", message: "bad \u001b name" },
    });
  });
});
