import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkspaceManager } from "../../src/core/manager.js";
import { createServer } from "../../src/mcp/server.js";
import { Pyro } from "../../src/sdk/pyro.js";
import { parseJson, pyro } from "../support/cli.js";

/**
 * --allow-host-compat on a host that cannot boot a guest, simulated with
 * PYRO_SIMULATE_NO_GUEST_BOOT=1: refused without the opt-in, run on the host (clearly labelled,
 * no isolation) with it. Through the CLI, the SDK and MCP.
 */
const NO_BOOT = { PYRO_SIMULATE_NO_GUEST_BOOT: "1" };
type ErrorPayload = { error: { code: string; message: string; hint: string } };

describe("host compat mode", () => {
  beforeAll(() => {
    process.env.PYRO_SIMULATE_NO_GUEST_BOOT = "1";
  });
  afterAll(() => {
    delete process.env.PYRO_SIMULATE_NO_GUEST_BOOT;
  });

  it("host-compat: run is refused without --allow-host-compat when guests cannot boot", async () => {
    const refused = await pyro(["run", "debian:12", "--json", "--", "echo", "hi"], {
      env: NO_BOOT,
    });
    expect(refused.status).toBe(1);
    const { error } = parseJson<ErrorPayload>(refused.stdout);
    expect(error.code).toBe("GUEST_BOOT_UNAVAILABLE");
    expect(error.hint).toContain("--allow-host-compat");
  });

  it("host-compat: run with --allow-host-compat runs on the host and says so", async () => {
    const human = await pyro(
      ["run", "debian:12", "--allow-host-compat", "--", "sh", "-c", "echo hi; exit 3"],
      { env: NO_BOOT },
    );
    expect(human.status).toBe(3);
    expect(human.stdout).toBe("hi\n");
    expect(human.stderr).toContain("NO isolation");
    expect(human.stderr).toContain("execution_mode=host_compat");
    const json = await pyro(
      ["run", "debian:12", "--allow-host-compat", "--json", "--", "echo", "ok"],
      { env: NO_BOOT },
    );
    expect(parseJson(json.stdout)).toMatchObject({
      execution_mode: "host_compat",
      accelerator: "none",
      stdout: "ok\n",
      exit_code: 0,
    });
  });

  it("host-compat: doctor reports that guests cannot boot and what host compat means", async () => {
    const report = await pyro(["doctor", "--json"], { env: NO_BOOT });
    expect(parseJson(report.stdout)).toMatchObject({
      capabilities: { vm_boot: false },
      host_compat: { guest_boot: false, isolation: "none" },
    });
  });

  it("host-compat: workspace create through the CLI is refused without the flag, works with it", async () => {
    const refused = await pyro(["workspace", "create", "debian:12", "--json"], { env: NO_BOOT });
    expect(refused.status).toBe(1);
    const { error } = parseJson<ErrorPayload>(refused.stdout);
    expect(error.code).toBe("GUEST_BOOT_UNAVAILABLE");
    expect(error.hint).toContain("--allow-host-compat");
    const created = await pyro(["workspace", "create", "debian:12", "--allow-host-compat"], {
      env: NO_BOOT,
    });
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toContain("Execution mode: host_compat");
    expect(created.stderr).toContain("NO isolation");
    const id = /Workspace ID: ([0-9a-f]{12})/.exec(created.stdout)?.[1] ?? "";
    expect((await pyro(["workspace", "delete", id], { env: NO_BOOT })).status).toBe(0);
  });

  it("host-compat: runInVm through the SDK is refused without allowHostCompat, runs with it", async () => {
    const sdk = new Pyro();
    await expect(
      sdk.runInVm({ environment: "debian:12", command: "echo sdk" }),
    ).rejects.toMatchObject({
      code: "GUEST_BOOT_UNAVAILABLE",
      hint: expect.stringContaining("allowHostCompat"),
    });
    expect(
      await sdk.runInVm({ environment: "debian:12", command: "echo sdk", allowHostCompat: true }),
    ).toMatchObject({ execution_mode: "host_compat", stdout: "sdk\n", exit_code: 0 });
  });

  it("host-compat: a workspace through the SDK: refused, then created on the host; exec, status, logs work, guest-only operations refuse", async () => {
    const sdk = new Pyro();
    await expect(sdk.createWorkspace({ environment: "debian:12" })).rejects.toMatchObject({
      code: "GUEST_BOOT_UNAVAILABLE",
    });
    const ws = await sdk.createWorkspace({ environment: "debian:12", allowHostCompat: true });
    try {
      expect(ws).toMatchObject({ execution_mode: "host_compat", state: "started" });
      const exec = await sdk.execWorkspace(ws.workspace_id, {
        command: "echo data > f.txt && ls -A",
      });
      expect(exec).toMatchObject({ execution_mode: "host_compat", stdout: "f.txt\n", sequence: 1 });
      expect(await sdk.statusWorkspace(ws.workspace_id)).toMatchObject({
        execution_mode: "host_compat",
        state: "started",
        command_count: 1,
      });
      expect((await sdk.logsWorkspace(ws.workspace_id)).count).toBe(1);
      await expect(sdk.diffWorkspace(ws.workspace_id)).rejects.toMatchObject({
        code: "HOST_COMPAT_UNSUPPORTED",
      });
      const status = await pyro(["workspace", "status", ws.workspace_id]);
      expect(status.stdout).toContain("Execution mode: host_compat");
      expect(status.stderr).toContain("NO isolation");
    } finally {
      await sdk.deleteWorkspace(ws.workspace_id);
    }
  });

  it("host-compat: vm_run and the vm_* lifecycle through MCP", async () => {
    const server = createServer(new WorkspaceManager());
    const client = new Client({ name: "host-compat-test", version: "1.0.0" });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(b), client.connect(a)]);
    await client.listTools(); // results are now checked against each outputSchema
    const refused = await client.callTool({
      name: "vm_run",
      arguments: { environment: "debian:12", command: "true" },
    });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain("GUEST_BOOT_UNAVAILABLE");
    // The hint names the tool's parameter, not the CLI flag.
    expect(JSON.stringify(refused.content)).toContain("pass allow_host_compat to run");
    const refusedWorkspace = await client.callTool({
      name: "workspace_create",
      arguments: { environment: "debian:12" },
    });
    expect(refusedWorkspace.isError).toBe(true);
    expect(JSON.stringify(refusedWorkspace.content)).toContain("GUEST_BOOT_UNAVAILABLE");
    const run = await client.callTool({
      name: "vm_run",
      arguments: { environment: "debian:12", command: "echo mcp", allow_host_compat: true },
    });
    expect(run.structuredContent).toMatchObject({ execution_mode: "host_compat", stdout: "mcp\n" });
    const created = (
      await client.callTool({
        name: "vm_create",
        arguments: { environment: "debian:12", allow_host_compat: true },
      })
    ).structuredContent as { vm_id: string; state: string };
    expect(created.state).toBe("created");
    const started = await client.callTool({
      name: "vm_start",
      arguments: { vm_id: created.vm_id },
    });
    expect(started.structuredContent).toMatchObject({
      state: "started",
      execution_mode: "host_compat",
    });
    const net = await client.callTool({
      name: "vm_network_info",
      arguments: { vm_id: created.vm_id },
    });
    expect(net.structuredContent).toMatchObject({ mode: "host" });
    const exec = await client.callTool({
      name: "vm_exec",
      arguments: { vm_id: created.vm_id, command: "echo once" },
    });
    expect(exec.structuredContent).toMatchObject({
      stdout: "once\n",
      deleted: true,
      execution_mode: "host_compat",
    });
    const gone = await client.callTool({ name: "vm_status", arguments: { vm_id: created.vm_id } });
    expect(JSON.stringify(gone.content)).toContain("VM_NOT_FOUND");
    const reaped = await client.callTool({ name: "vm_reap_expired", arguments: {} });
    expect(reaped.isError).toBeFalsy();
    await client.close();
  });
  it("host-compat: names and labels work, secrets are refused (they need a guest)", async () => {
    const sdk = new Pyro();
    await expect(
      sdk.createWorkspace({
        environment: "debian:12",
        allowHostCompat: true,
        secrets: [{ name: "T", value: "host-compat-secret" }],
      }),
    ).rejects.toMatchObject({ code: "HOST_COMPAT_UNSUPPORTED" });
    const ws = await sdk.createWorkspace({
      environment: "debian:12",
      allowHostCompat: true,
      name: "host-named",
      labels: { kind: "compat" },
    });
    try {
      expect(ws).toMatchObject({ name: "host-named", labels: { kind: "compat" }, secrets: [] });
      const exec = await sdk.execWorkspace("host-named", { command: "echo by-name" });
      expect(exec).toMatchObject({ workspace_id: ws.workspace_id, stdout: "by-name\n" });
      await expect(
        sdk.execWorkspace("host-named", { command: "true", secretEnv: { T: "T" } }),
      ).rejects.toMatchObject({ code: "SECRET_NOT_FOUND" });
    } finally {
      await sdk.deleteWorkspace(ws.workspace_id);
    }
  });
});
