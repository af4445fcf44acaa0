import { invalidArgument } from "../errors.js";

/**
 * What a guest may do on the network (the original's WorkspaceNetworkPolicy, 2.10):
 *   off                     no network interface at all (only lo)
 *   egress                  QEMU user-mode networking: outbound connections, nothing inbound
 *   egress+published-ports  egress, and services may publish ports on the host's 127.0.0.1
 * `--network` (`network: true`) is the older spelling of `egress`.
 */
export const NETWORK_POLICIES = ["off", "egress", "egress+published-ports"] as const;
export type NetworkPolicy = (typeof NETWORK_POLICIES)[number];

/** QEMU user-mode networking's fixed addresses (the guest init configures them statically). */
export const USER_NET = { guestIp: "10.0.2.15", gateway: "10.0.2.2", dns: "10.0.2.3" } as const;
/** The only host address a published port listens on. */
export const PUBLISH_HOST = "127.0.0.1";

/** The policy asked for, from `network_policy` or its alias `network`; off by default. */
export function resolveNetworkPolicy(options: {
  network?: boolean;
  networkPolicy?: NetworkPolicy;
}): NetworkPolicy {
  const { network, networkPolicy } = options;
  if (
    networkPolicy !== undefined &&
    !(NETWORK_POLICIES as readonly string[]).includes(networkPolicy)
  ) {
    throw invalidArgument(
      `--network-policy / network_policy must be one of ${NETWORK_POLICIES.join(", ")}, got ${JSON.stringify(networkPolicy)}`,
      "Use --network-policy off, egress or egress+published-ports.",
    );
  }
  if (networkPolicy === undefined) return network === true ? "egress" : "off";
  if (network === true && networkPolicy === "off") {
    throw invalidArgument(
      "--network / network asks for egress but --network-policy / network_policy is off",
      "Give only --network-policy (--network is the older spelling of --network-policy egress).",
    );
  }
  return networkPolicy;
}

/** Whether the guest has a network interface under this policy. */
export const hasNetwork = (policy: NetworkPolicy): boolean => policy !== "off";

/** The policy of a record written before policies existed (only the `network` flag). */
export function recordedPolicy(record: {
  network: boolean;
  network_policy?: NetworkPolicy | undefined;
}): NetworkPolicy {
  return record.network_policy ?? (record.network ? "egress" : "off");
}
