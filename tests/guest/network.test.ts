import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pyro } from "../../src/index.js";
import { pyro, qemuProcesses } from "../support/cli.js";
import { cliJson, errorCode } from "../support/shells.js";
import { createWorkspace, stateDir, wsExec } from "../support/workspace.js";
import { mcpClient } from "../support/mcp.js";

/**
 * Network policies and published ports with real guests: a perl HTTP server in the guest,
 * published on the host's 127.0.0.1 and fetched with Node's fetch, then gone after service stop,
 * failure, reset and delete. Only 127.0.0.0/8 on the host is ever contacted.
 */
interface Published {
  host: string;
  host_port: number;
  guest_port: number;
  protocol: string;
}
interface Service {
  service_name: string;
  state: string;
  published_ports: Published[];
}
interface NetworkInfo {
  network_policy: string;
  mode: string;
  egress: boolean;
  publish_allowed: boolean;
  guest_ip: string | null;
  published_ports: (Published & { service_name: string })[];
}

// perl is in every environment; it listens on all guest addresses so QEMU's forward reaches it.
const HTTP_SERVER = `perl -MIO::Socket::INET -e '$| = 1; my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 8000, Listen => 5, ReuseAddr => 1) or die "listen: $!"; while (my $c = $s->accept) { while (my $l = <$c>) { last if $l =~ /^\\r?$/ } print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from the guest\\n"; close $c }'`;

let published: string; // egress+published-ports
let offline: string; // off

beforeAll(async () => {
  published = (await createWorkspace(["--network-policy", "egress+published-ports"])).workspace_id;
  offline = (await createWorkspace(["--network-policy", "off"])).workspace_id;
});

afterAll(async () => {
  for (const id of [published, offline]) if (id) await pyro(["workspace", "delete", id]);
});

async function get(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(15_000) });
  return response.text();
}

/** Resolves to an error string when nothing answers on 127.0.0.1:port. */
async function unreachable(port: number): Promise<string> {
  return get(port).then(
    (body) => `answered: ${body}`,
    (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
  );
}

async function startWeb(id: string, name: string, publish: string[]): Promise<Service> {
  const flags = publish.flatMap((p) => ["--publish", p]);
  const result = await pyro([
    "workspace", "service", "start", id, name, ...flags, "--ready-tcp", "127.0.0.1:8000", "--json", "--", "sh", "-c", HTTP_SERVER,
  ]);
  if (result.status !== 0) throw new Error(`service start failed: ${result.stdout}${result.stderr}`);
  return JSON.parse(result.stdout) as Service;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Local addresses of the TCP sockets the given processes listen on (from /proc). */
function listeningAddresses(pids: number[]): string[] {
  const inodes = new Set<string>();
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      })();
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match?.[1]) inodes.add(match[1]);
    }
  }
  const out: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local remote st ... inode (10th)
      if (cols[3] === "0A" && cols[9] && inodes.has(cols[9])) out.push(cols[1] ?? "");
    }
  }
  return out;
}

function workspacePids(id: string): number[] {
  const qemu = qemuProcesses(stateDir()).filter((line) => line.includes(id));
  const pids = qemu.map((line) => Number(line.split(" ")[0]));
  const supervisor = Number(readFileSync(`${stateDir()}/workspaces/${id}/supervisor.pid`, "utf8"));
  return [...pids, supervisor];
}

describe("network policy", () => {
  it("network: off has no interface but lo, cannot publish, and --network is egress", async () => {
    const status = await cliJson<{ network_policy: string; network: boolean }>(["workspace", "status", offline]);
    expect(status).toMatchObject({ network_policy: "off", network: false });
    const links = await wsExec(offline, "ls /sys/class/net");
    expect(links.stdout).toBe("lo\n");
    const info = await cliJson<NetworkInfo>(["workspace", "network-info", offline]);
    expect(info).toMatchObject({ network_policy: "off", mode: "none", egress: false, publish_allowed: false, guest_ip: null, published_ports: [] });

    const refused = await pyro(["workspace", "service", "start", offline, "web", "--publish", "8000", "--json", "--", "sleep", "60"]);
    expect(refused.status).toBe(1);
    expect(errorCode(refused)).toBe("PUBLISH_NOT_ALLOWED");
    expect(refused.stdout).toContain("--network-policy egress+published-ports");
    expect((await cliJson<{ count: number }>(["workspace", "service", "list", offline])).count).toBe(0);

    // The alias, and the choices: bad input never reaches a VM.
    const egress = await pyro(["run", "debian:12", "--network", "--", "ls", "/sys/class/net"]);
    expect(egress.stdout).toBe("eth0\nlo\n");
    const conflict = await pyro(["workspace", "create", "debian:12", "--network", "--network-policy", "off", "--json"]);
    expect(errorCode(conflict)).toBe("INVALID_ARGUMENT");
    const bogus = await pyro(["workspace", "create", "debian:12", "--network-policy", "open", "--json"]);
    expect(errorCode(bogus)).toBe("INVALID_ARGUMENT");
    expect(bogus.stdout).toContain("--network-policy");
  });

  it("publish: a perl HTTP service is fetched on 127.0.0.1, nothing listens elsewhere, and stop removes it", async () => {
    const links = await wsExec(published, "ls /sys/class/net");
    expect(links.stdout).toBe("eth0\nlo\n");
    const web = await startWeb(published, "web", ["8000"]);
    expect(web.state).toBe("running");
    expect(web.published_ports).toEqual([{ host: "127.0.0.1", host_port: expect.any(Number), guest_port: 8000, protocol: "tcp" }]);
    const port = web.published_ports[0]!.host_port;
    expect(await get(port)).toBe("hello from the guest\n");

    // Every listening TCP socket of the workspace's processes is on 127.0.0.1 (0100007F).
    const listening = listeningAddresses(workspacePids(published));
    expect(listening).toContain(`0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`);
    for (const address of listening) expect(address).toMatch(/^0100007F:/);

    const info = await cliJson<NetworkInfo>(["workspace", "network-info", published]);
    expect(info).toMatchObject({ network_policy: "egress+published-ports", mode: "user", egress: true, publish_allowed: true, guest_ip: "10.0.2.15" });
    expect(info.published_ports).toEqual([{ service_name: "web", host: "127.0.0.1", host_port: port, guest_port: 8000, protocol: "tcp" }]);

    const stopped = await cliJson<Service>(["workspace", "service", "stop", published, "web"]);
    expect(stopped).toMatchObject({ state: "stopped", published_ports: [] });
    expect(await unreachable(port)).toBe("ECONNREFUSED");
    expect((await cliJson<NetworkInfo>(["workspace", "network-info", published])).published_ports).toEqual([]);
  });

  it("publish: a taken host port is PORT_IN_USE and starts nothing; a failed service frees its port", async () => {
    const holder = net.createServer();
    const taken = await new Promise<number>((resolve) =>
      holder.listen(0, "127.0.0.1", () => resolve((holder.address() as net.AddressInfo).port)),
    );
    try {
      const result = await pyro(["workspace", "service", "start", published, "busy", "--publish", `${taken}:8000`, "--json", "--", "sleep", "60"]);
      expect(result.status).toBe(1);
      expect(errorCode(result)).toBe("PORT_IN_USE");
      expect(result.stdout).toContain(`127.0.0.1:${taken}`);
      const status = await pyro(["workspace", "service", "status", published, "busy", "--json"]);
      expect(errorCode(status)).toBe("SERVICE_NOT_FOUND");
    } finally {
      holder.close();
    }
    for (const bad of ["80:8000", "http", "8000:70000"]) {
      const result = await pyro(["workspace", "service", "start", published, "bad", "--publish", bad, "--json", "--", "true"]);
      expect(errorCode(result), bad).toBe("INVALID_ARGUMENT");
    }

    const port = await freePort();
    const failed = await pyro([
      "workspace", "service", "start", published, "flaky", "--publish", `${port}:8000`, "--ready-command", "false", "--ready-timeout-seconds", "1", "--json", "--", "sh", "-c", HTTP_SERVER,
    ]);
    expect(errorCode(failed)).toBe("SERVICE_FAILED");
    expect(await unreachable(port)).toBe("ECONNREFUSED");
    const record = await cliJson<Service>(["workspace", "service", "status", published, "flaky"]);
    expect(record).toMatchObject({ state: "failed", published_ports: [] });
  });

  it("publish: through MCP and the SDK; workspace stop, reset and delete remove the ports", async () => {
    const client = await mcpClient("pyro-network-test");
    let port: number;
    try {
      const started = await client.callTool({
        name: "service_start",
        arguments: {
          workspace_id: published,
          service_name: "web",
          command: HTTP_SERVER,
          readiness: { type: "tcp", address: "127.0.0.1:8000" },
          published_ports: [{ guest_port: 8000 }],
        },
      });
      expect(started.isError ?? false, JSON.stringify(started.content)).toBe(false);
      port = (started.structuredContent as unknown as Service).published_ports[0]!.host_port;
      const info = await client.callTool({ name: "workspace_network_info", arguments: { workspace_id: published } });
      expect((info.structuredContent as unknown as NetworkInfo).published_ports[0]).toMatchObject({ service_name: "web", host_port: port });
    } finally {
      await client.close();
    }
    expect(await get(port)).toBe("hello from the guest\n");

    const sdk = new Pyro();
    expect((await sdk.networkInfoWorkspace(published)).published_ports.map((p) => p.host_port)).toEqual([port]);
    // workspace stop ends QEMU and its forwards; after start the service runs on, unpublished.
    await sdk.stopWorkspace(published);
    expect(await unreachable(port)).toBe("ECONNREFUSED");
    await sdk.startWorkspace(published);
    expect(await sdk.statusService(published, "web")).toMatchObject({ state: "running", published_ports: [] });
    expect(await unreachable(port)).toBe("ECONNREFUSED");
    await sdk.resetWorkspace(published);
    expect(await unreachable(port)).toBe("ECONNREFUSED");
    expect((await sdk.networkInfoWorkspace(published)).published_ports).toEqual([]);

    const again = await sdk.startService(published, "web", {
      command: HTTP_SERVER,
      readiness: { type: "tcp", address: "127.0.0.1:8000" },
      publishedPorts: [{ host_port: port, guest_port: 8000 }],
    });
    expect(again.published_ports[0]?.host_port).toBe(port);
    expect(await get(port)).toBe("hello from the guest\n");
    await sdk.deleteWorkspace(published);
    published = "";
    expect(await unreachable(port)).toBe("ECONNREFUSED");
  });
});
