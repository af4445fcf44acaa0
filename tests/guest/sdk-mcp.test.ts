import { describe, expect, it } from "vitest";
import { Pyro } from "../../src/index.js";
import { pyro, qemuProcesses } from "../support/cli.js";
import { stateDir } from "../support/workspace.js";
import { mcpClient } from "../support/mcp.js";


describe("SDK and MCP", () => {
  it("sdk: runInVm returns the same payload as run --json", async () => {
    const pyro = new Pyro();
    let streamed = "";
    const result = await pyro.runInVm({
      environment: "debian:12",
      command: "git --version && echo $((6*7))",
      onStdout: (chunk) => (streamed += chunk.toString()),
    });
    expect(result.exit_code).toBe(0);
    expect(result.stdout).toMatch(/^git version 2\.39\.\d+\n42\n$/);
    expect(streamed).toBe(result.stdout);
    expect(result.execution_mode).toBe("guest_agent");
  });

  it("sdk: bad input is a typed error with a hint", async () => {
    const pyro = new Pyro();
    await expect(pyro.runInVm({ environment: "debian:12", command: "true", vcpuCount: 0 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(pyro.runInVm({ environment: "ubuntu:24.04", command: "true" })).rejects.toMatchObject({
      code: "UNKNOWN_ENVIRONMENT",
      hint: expect.stringContaining("debian:12"),
    });
  });

  it("mcp: pyro mcp serve answers vm_run over stdio to the official client", async () => {
    const client = await mcpClient();
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["vm_run", "vm_list_environments"]));

      const envs = await client.callTool({ name: "vm_list_environments", arguments: {} });
      const list = envs.structuredContent as { environments: { name: string; installed: boolean }[] };
      expect(list.environments.find((e) => e.name === "debian:12")?.installed).toBe(true);

      const run = await client.callTool({
        name: "vm_run",
        arguments: { environment: "debian:12", command: "git --version; exit 3" },
      });
      expect(run.isError).toBeFalsy();
      const payload = run.structuredContent as { stdout: string; exit_code: number };
      expect(payload.exit_code).toBe(3);
      expect(payload.stdout).toMatch(/^git version 2\.39\./);

      const bad = await client.callTool({
        name: "vm_run",
        arguments: { environment: "nope:1", command: "true" },
      });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toContain("UNKNOWN_ENVIRONMENT");

      // The server survives a failed call.
      const again = await client.callTool({ name: "vm_list_environments", arguments: {} });
      expect(again.isError).toBeFalsy();
    } finally {
      await client.close();
    }
    expect(qemuProcesses(stateDir())).toEqual([]);
  });

  it("mcp: a workspace round trip through the tools: create, exec, snapshot, reset, diff, delete", async () => {
    const client = await mcpClient();
    const call = async (name: string, args: Record<string, unknown>) => {
      const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 });
      if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
      return result.structuredContent as Record<string, unknown>;
    };
    let id: string | undefined;
    try {
      id = (await call("workspace_create", { environment: "debian:12" })).workspace_id as string;
      // A fresh /workspace is empty: no lost+found.
      expect((await call("workspace_exec", { workspace_id: id, command: "ls -A" })).stdout).toBe("");
      expect((await call("workspace_exec", { workspace_id: id, command: "echo one > a.txt" })).exit_code).toBe(0);
      const snap = await call("snapshot_create", { workspace_id: id, snapshot_name: "one" });
      // Every kind is measured from the filesystem's counters: the live snapshot is the empty
      // baseline plus one entry and one 4 KiB block.
      const listed = await call("snapshot_list", { workspace_id: id });
      const baseline = (listed.snapshots as { entry_count: number; bytes_written: number }[])[0];
      expect(baseline).toMatchObject({ kind: "baseline", entry_count: 0 });
      expect(baseline?.bytes_written).toBeGreaterThan(0);
      expect(snap.snapshot).toMatchObject({
        kind: "named",
        entry_count: 1,
        bytes_written: (baseline?.bytes_written ?? 0) + 4096,
      });
      await call("workspace_exec", { workspace_id: id, command: "echo two > a.txt" });
      const reset = await call("workspace_reset", { workspace_id: id, snapshot: "one" });
      expect(reset.reset_count).toBe(1);
      expect(reset.restored_snapshot).toBe("one");
      expect((await call("workspace_exec", { workspace_id: id, command: "cat a.txt" })).stdout).toBe("one\n");
      const diff = await call("workspace_diff", { workspace_id: id });
      expect(diff.changed).toBe(true);
      const snaps = await call("snapshot_list", { workspace_id: id });
      expect((snaps.snapshots as { snapshot_name: string }[]).map((x) => x.snapshot_name)).toEqual(["baseline", "one"]);
      const bad = await client.callTool({ name: "snapshot_delete", arguments: { workspace_id: id, snapshot_name: "baseline" } });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toContain("reserved");
    } finally {
      if (id) await call("workspace_delete", { workspace_id: id });
      await client.close();
    }
  });

  it("mcp: the advanced VM lifecycle through the tools: create, start, status, network, exec, reap", async () => {
    const client = await mcpClient();
    const call = async (name: string, args: Record<string, unknown>) => {
      const result = await client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 });
      if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
      return result.structuredContent as Record<string, unknown>;
    };
    let vmId: string | undefined;
    try {
      const created = await call("vm_create", { environment: "debian:12", ttl_seconds: 600 });
      vmId = created.vm_id as string;
      expect(created).toMatchObject({ state: "created", network: false });
      expect(await call("vm_start", { vm_id: vmId })).toMatchObject({ state: "started", execution_mode: "guest_agent" });
      expect(await call("vm_status", { vm_id: vmId })).toMatchObject({ vm_id: vmId, state: "started" });
      expect(await call("vm_network_info", { vm_id: vmId })).toMatchObject({ mode: "none", guest_ip: null });
      const ran = await call("vm_exec", { vm_id: vmId, command: "cat /proc/1/comm; exit 5" });
      expect(ran).toMatchObject({ vm_id: vmId, exit_code: 5, deleted: true, execution_mode: "guest_agent" });
      const gone = await client.callTool({ name: "vm_status", arguments: { vm_id: vmId } });
      expect(gone.isError).toBe(true);
      expect(JSON.stringify(gone.content)).toContain("VM_NOT_FOUND");
      vmId = undefined;
      expect(await call("vm_reap_expired", {})).toMatchObject({ vms: expect.any(Array), workspaces: expect.any(Array) });
    } finally {
      if (vmId) await client.callTool({ name: "vm_delete", arguments: { vm_id: vmId } });
      await client.close();
    }
    expect(qemuProcesses(stateDir())).toEqual([]);
  });

  it("sdk: the advanced VM lifecycle: create, start, network info, stop, exec (which deletes the VM)", async () => {
    const sdk = new Pyro();
    const created = await sdk.createVm({ environment: "debian:12", ttlSeconds: 600, network: true });
    expect(created).toMatchObject({ state: "created", workspace_id: null, network: true });
    try {
      const started = await sdk.startVm(created.vm_id);
      expect(started).toMatchObject({ state: "started", execution_mode: "guest_agent" });
      expect(await sdk.networkInfoVm(created.vm_id)).toMatchObject({ mode: "user", guest_ip: "10.0.2.15" });
      const stopped = await sdk.stopVm(created.vm_id);
      expect(stopped).toMatchObject({ state: "stopped", workspace_id: null });
      const ran = await sdk.execVm(created.vm_id, { command: "uname -s; exit 4" });
      expect(ran).toMatchObject({ vm_id: created.vm_id, stdout: "Linux\n", exit_code: 4, deleted: true });
      await expect(sdk.statusVm(created.vm_id)).rejects.toMatchObject({ code: "VM_NOT_FOUND" });
      await expect(sdk.startVm("vm-nope")).rejects.toMatchObject({ code: "VM_NOT_FOUND" });
    } finally {
      await sdk.deleteVm(created.vm_id).catch(() => undefined);
    }
    expect(qemuProcesses(stateDir())).toEqual([]);
  });

  it("cli: pyro demo creates, starts, runs and deletes a VM", async () => {
    const result = await pyro(["demo"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Linux [\s\S]*git version 2\.39[\s\S]*hello from the guest\n$/);
    for (const phase of ["create", "start", "exec", "delete"]) expect(result.stderr).toContain(`[demo] phase=${phase}`);
    expect(result.stderr).toContain("deleted=true");
  });
});
