import { PyroError } from "../errors.js";

/**
 * Published ports: what a service asks for and what its record shows. A request is checked here
 * (on the host before the supervisor is asked, and again in the supervisor: a client is not
 * trusted). Host ports start at 1024: lower ones need privileges pyro does not have.
 */
export interface PortRequest {
  /** null or absent: any free port on 127.0.0.1. */
  host_port?: number | null;
  guest_port: number;
}

export interface PublishedPort {
  host: "127.0.0.1";
  host_port: number;
  guest_port: number;
  protocol: "tcp";
}

export const HOST_PORT_RANGE = { min: 1024, max: 65535 } as const;
export const GUEST_PORT_RANGE = { min: 1, max: 65535 } as const;
/** Ports one service may publish. */
export const MAX_PUBLISHED_PORTS = 16;

const whole = (value: unknown, range: { min: number; max: number }): boolean =>
  typeof value === "number" && Number.isInteger(value) && value >= range.min && value <= range.max;

function badPublish(what: string, label = "--publish / published_ports"): PyroError {
  return new PyroError("INVALID_ARGUMENT", `${label}: ${what}`, {
    hint: `Give --publish HOST_PORT:GUEST_PORT (host port ${HOST_PORT_RANGE.min}-${HOST_PORT_RANGE.max}) or --publish GUEST_PORT for a free host port, e.g. --publish 8080:8000.`,
  });
}

/** The checked list of requests (empty when nothing is published). */
export function checkPortRequests(
  value: unknown,
): { host_port: number | null; guest_port: number }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badPublish("must be a list");
  if (value.length > MAX_PUBLISHED_PORTS)
    throw badPublish(`at most ${MAX_PUBLISHED_PORTS} ports per service, got ${value.length}`);
  const hostPorts = new Set<number>();
  return value.map((item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item))
      throw badPublish("each entry must be an object with guest_port and optional host_port");
    const { host_port: hostPort, guest_port: guestPort, ...rest } = item as Record<string, unknown>;
    if (Object.keys(rest).length > 0)
      throw badPublish(`unknown field ${JSON.stringify(Object.keys(rest)[0])}`);
    if (!whole(guestPort, GUEST_PORT_RANGE))
      throw badPublish(
        `guest port must be a whole number from 1 to 65535, got ${JSON.stringify(guestPort)}`,
      );
    if (hostPort !== undefined && hostPort !== null) {
      if (!whole(hostPort, HOST_PORT_RANGE))
        throw badPublish(
          `host port must be a whole number from ${HOST_PORT_RANGE.min} to ${HOST_PORT_RANGE.max}, got ${JSON.stringify(hostPort)}`,
        );
      if (seenBefore(hostPorts, hostPort as number))
        throw badPublish(`host port ${String(hostPort)} is given twice`);
    }
    return {
      host_port: (hostPort as number | null | undefined) ?? null,
      guest_port: guestPort as number,
    };
  });
}

function seenBefore(seen: Set<number>, port: number): boolean {
  if (seen.has(port)) return true;
  seen.add(port);
  return false;
}

/** `--publish` words (the CLI only): `HOST_PORT:GUEST_PORT` or `GUEST_PORT`, ranges checked. */
export function parsePublishFlag(text: string): PortRequest {
  const match = /^(?:(\d{1,5}):)?(\d{1,5})$/.exec(text.trim());
  if (!match) throw badPublish(`cannot read ${JSON.stringify(text)}`, "--publish");
  const guest = Number(match[2]);
  if (!whole(guest, GUEST_PORT_RANGE))
    throw badPublish(`guest port must be from 1 to 65535, got ${guest}`, "--publish");
  if (match[1] !== undefined && !whole(Number(match[1]), HOST_PORT_RANGE)) {
    throw badPublish(
      `host port must be from ${HOST_PORT_RANGE.min} to ${HOST_PORT_RANGE.max} (lower ones need privileges), got ${match[1]}`,
      "--publish",
    );
  }
  return match[1] === undefined
    ? { guest_port: guest }
    : { host_port: Number(match[1]), guest_port: guest };
}

export const publishedUrl = (port: PublishedPort): string => `${port.host}:${port.host_port}`;
