import { describe, expect, it } from "vitest";
import { resolveNetworkPolicy, recordedPolicy } from "../../src/core/network/policy.js";
import { checkPortRequests, parsePublishFlag } from "../../src/core/network/ports.js";
import { buildQemuArgs } from "../../src/runtime/qemu/args.js";
import type { VmPlan } from "../../src/runtime/driver.js";
import { OPERATIONS } from "../../src/operations/index.js";

describe("network policy", () => {
  it("policy: network_policy wins, --network is egress, off is the default, a contradiction is refused", () => {
    expect(resolveNetworkPolicy({})).toBe("off");
    expect(resolveNetworkPolicy({ network: true })).toBe("egress");
    expect(resolveNetworkPolicy({ network: false, networkPolicy: "egress+published-ports" })).toBe(
      "egress+published-ports",
    );
    expect(resolveNetworkPolicy({ network: true, networkPolicy: "egress" })).toBe("egress");
    expect(() => resolveNetworkPolicy({ network: true, networkPolicy: "off" })).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
    // Records written before policies existed.
    expect(recordedPolicy({ network: true })).toBe("egress");
    expect(recordedPolicy({ network: false })).toBe("off");
  });

  it("policy: off starts QEMU without any network device; both egress policies share one device", () => {
    const plan: VmPlan = {
      runDir: "/run/x",
      kernelPath: "/k",
      initramfsPath: "/i",
      vcpuCount: 1,
      memMib: 512,
      accelerator: "tcg",
      network: false,
      rootDisk: { serial: "pyro-root", path: "/r.qcow2", format: "qcow2", readOnly: false },
    };
    const off = buildQemuArgs(plan).join(" ");
    expect(off).not.toMatch(/netdev|virtio-net|-nic|-net /);
    expect(buildQemuArgs({ ...plan, network: true }).join(" ")).toContain("-netdev user,id=net0");
  });

  it("publish: flag words and request lists are checked", () => {
    expect(parsePublishFlag("8080:8000")).toEqual({ host_port: 8080, guest_port: 8000 });
    expect(parsePublishFlag("8000")).toEqual({ guest_port: 8000 });
    for (const bad of ["", "http", "1:2:3", "-1", "127.0.0.1:80:80", "80:8000", "8080:0", "99999"])
      expect(() => parsePublishFlag(bad), bad).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
    expect(() => parsePublishFlag("80:8000")).toThrow(/^--publish: host port must be from 1024/);
    expect(checkPortRequests(undefined)).toEqual([]);
    expect(checkPortRequests([{ guest_port: 80 }])).toEqual([{ host_port: null, guest_port: 80 }]);
    const refused = [
      [{ guest_port: 0 }],
      [{ guest_port: 80, host_port: 80 }],
      [{ guest_port: 80, host_port: 70000 }],
      [
        { guest_port: 80, host_port: 9000 },
        { guest_port: 81, host_port: 9000 },
      ],
      [{ guest_port: 80, address: "0.0.0.0" }],
      Array.from({ length: 17 }, (_, i) => ({ guest_port: 1000 + i })),
      "8080:80",
    ];
    for (const value of refused)
      expect(() => checkPortRequests(value), JSON.stringify(value)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT" }),
      );
  });
});

describe("published ports in human output", () => {
  it("publish: start, status and list say where the service is published", () => {
    const record = {
      workspace_id: "0123456789ab",
      service_name: "web",
      command: "./serve",
      cwd: "/workspace",
      state: "running" as const,
      started_at: "2026-01-01T00:00:00.000Z",
      ready_at: "2026-01-01T00:00:01.000Z",
      ended_at: null,
      exit_code: null,
      pid: 42,
      readiness: null,
      ready_timeout_seconds: 30,
      ready_interval_ms: 500,
      stop_reason: null,
      failure_reason: null,
      execution_mode: "guest_agent" as const,
      published_ports: [
        { host: "127.0.0.1" as const, host_port: 8080, guest_port: 8000, protocol: "tcp" as const },
      ],
    };
    expect(OPERATIONS.startService.print(record).stderr).toContain(
      " published=127.0.0.1:8080->8000 ",
    );
    expect(OPERATIONS.statusService.print(record).stdout).toContain(
      "Published: 127.0.0.1:8080->8000\n",
    );
    const list = { workspace_id: "0123456789ab", count: 1, running_count: 1, services: [record] };
    expect(OPERATIONS.listServices.print(list).stdout).toContain(
      "web  running  127.0.0.1:8080->8000  ./serve",
    );
  });
});
