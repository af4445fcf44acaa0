import type { PyroPaths } from "../paths.js";
import { statusWorkspace } from "../workspace/lifecycle.js";
import { listServices } from "../workspace/services.js";
import { USER_NET, type NetworkPolicy } from "./policy.js";
import type { PublishedPort } from "./ports.js";

export interface WorkspacePublishedPort extends PublishedPort {
  service_name: string;
}

export interface WorkspaceNetworkPayload {
  workspace_id: string;
  network_policy: NetworkPolicy;
  /** none: no interface; user: QEMU user-mode networking; host: host_compat (the host's own). */
  mode: "none" | "user" | "host";
  guest_ip: string | null;
  gateway: string | null;
  dns: string | null;
  /** The guest can open outbound connections. */
  egress: boolean;
  /** Services may publish ports on the host's 127.0.0.1. */
  publish_allowed: boolean;
  /** Ports published now, by running services (empty unless the workspace is started). */
  published_ports: WorkspacePublishedPort[];
  /** One sentence: what the guest reaches and what reaches it. */
  summary: string;
}

/** `workspace network-info`: what the guest can reach and what of it is published on the host. */
export async function workspaceNetworkInfo(
  paths: PyroPaths,
  workspaceId: string,
): Promise<WorkspaceNetworkPayload> {
  const record = await statusWorkspace(paths, workspaceId);
  const policy = record.network_policy;
  if (record.execution_mode === "host_compat") {
    return {
      workspace_id: workspaceId,
      network_policy: policy,
      mode: "host",
      guest_ip: null,
      gateway: null,
      dns: null,
      egress: true,
      publish_allowed: false,
      published_ports: [],
      summary:
        "host_compat: commands run on the host itself and use its network, whatever the policy; nothing is published.",
    };
  }
  const user = policy !== "off";
  const publishAllowed = policy === "egress+published-ports";
  const published: WorkspacePublishedPort[] = [];
  if (publishAllowed && record.state === "started") {
    const list = await listServices(paths, workspaceId);
    for (const service of list.services) {
      for (const port of service.published_ports)
        published.push({ service_name: service.service_name, ...port });
    }
  }
  return {
    workspace_id: workspaceId,
    network_policy: policy,
    mode: user ? "user" : "none",
    guest_ip: user ? USER_NET.guestIp : null,
    gateway: user ? USER_NET.gateway : null,
    dns: user ? USER_NET.dns : null,
    egress: user,
    publish_allowed: publishAllowed,
    published_ports: published,
    summary: !user
      ? "off: the guest has no network interface (only lo); nothing is reachable in or out."
      : publishAllowed
        ? `egress+published-ports: outbound connections through QEMU user-mode networking; ${published.length === 0 ? "no port is published now" : `published on the host: ${published.map((p) => `${p.host}:${p.host_port} -> guest ${p.guest_port} (${p.service_name})`).join(", ")}`}.`
        : "egress: outbound connections through QEMU user-mode networking; nothing on the host reaches the guest.",
  };
}
