import { z } from "zod";
import { NETWORK_POLICIES } from "../core/network/policy.js";
import { defineOperation, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { lines } from "./human.js";
import { publishedPort } from "./payloads.js";

export const workspaceNetwork = z
  .object({
    workspace_id: z.string(),
    network_policy: z.enum(NETWORK_POLICIES),
    mode: z
      .enum(["none", "user", "host"])
      .describe("none: no interface; user: QEMU user-mode networking; host: host_compat."),
    guest_ip: z.string().nullable(),
    gateway: z.string().nullable(),
    dns: z.string().nullable(),
    egress: z.boolean().describe("The guest can open outbound connections."),
    publish_allowed: z.boolean().describe("Services may publish ports on the host's 127.0.0.1."),
    published_ports: z
      .array(publishedPort.extend({ service_name: z.string() }).strict())
      .describe("Ports published now by running services."),
    summary: z.string(),
  })
  .strict();

export const networkInfoWorkspace = defineOperation({
  sdk: "networkInfoWorkspace",
  sdkArgs: ["workspace_id"],
  mcp: { tool: "workspace_network_info", title: "Workspace network details" },
  cli: {
    path: ["workspace", "network-info"],
    args: ["workspace_id"],
    examples: ["pyro workspace network-info WORKSPACE_ID"],
  },
  description:
    "Return what a workspace's guest can reach and what is published: its network policy (off: no interface; egress: outbound only through QEMU user-mode networking, guest 10.0.2.15; egress+published-ports: egress, and services started with published ports are reachable on the host's 127.0.0.1) and the ports published now.",
  hints: HINTS.read,
  input: { workspace_id: fields.workspaceId },
  output: workspaceNetwork,
  run: (manager, input) => manager.networkInfoWorkspace(input.workspace_id),
  print: (r) => ({
    stdout: lines(
      `Workspace ID: ${r.workspace_id}`,
      `Network policy: ${r.network_policy}`,
      `Mode: ${r.mode}`,
      ...(r.guest_ip ? [`Guest IP: ${r.guest_ip} (gateway ${r.gateway}, DNS ${r.dns})`] : []),
      `Egress: ${r.egress ? "yes" : "no"}`,
      `Publishing: ${r.publish_allowed ? "allowed (127.0.0.1 only)" : "not allowed"}`,
      ...(r.published_ports.length === 0
        ? ["Published ports: none"]
        : r.published_ports.map(
            (p) =>
              `Published: ${p.host}:${p.host_port} -> guest ${p.guest_port} (service ${p.service_name})`,
          )),
    ),
  }),
});
