import net from "node:net";
import { PyroError, toPyroError } from "../core/errors.js";
import { PUBLISH_HOST, USER_NET } from "../core/network/policy.js";
import type { PublishedPort } from "../core/network/ports.js";
import { QmpClient } from "../runtime/qemu/qmp.js";

/** QEMU's user-mode network device (src/runtime/qemu/args.ts). */
const NETDEV = "net0";
/** Tries at a free host port that another process takes between the pick and QEMU's bind. */
const FREE_PORT_TRIES = 5;

/**
 * Published ports as QEMU user-mode networking host forwards (`hostfwd_add`, through QMP's
 * human-monitor-command): QEMU itself listens on 127.0.0.1:HOST_PORT and connects to the guest's
 * GUEST_PORT, so the forward ends with QEMU (a stop, reset, delete or crash). The supervisor owns
 * QEMU; its QMP calls go one at a time through this queue.
 */
export class PortForwarder {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly qmpSocket: string) {}

  /** Publish every request, or none: a failure removes what was added and says which port. */
  async publish(
    requests: readonly { host_port: number | null; guest_port: number }[],
  ): Promise<PublishedPort[]> {
    const added: PublishedPort[] = [];
    try {
      for (const request of requests) added.push(await this.add(request));
      return added;
    } catch (error) {
      await this.unpublish(added);
      throw error;
    }
  }

  /** Remove forwards (best effort: QEMU may already be gone, and its forwards with it). */
  async unpublish(ports: readonly PublishedPort[]): Promise<void> {
    for (const port of ports) {
      await this.hmp(`hostfwd_remove ${NETDEV} tcp:${PUBLISH_HOST}:${port.host_port}`).catch(
        () => undefined,
      );
    }
  }

  private async add(request: {
    host_port: number | null;
    guest_port: number;
  }): Promise<PublishedPort> {
    for (let attempt = 1; ; attempt += 1) {
      const hostPort = request.host_port ?? (await freeLoopbackPort());
      const output = await this.hmp(
        `hostfwd_add ${NETDEV} tcp:${PUBLISH_HOST}:${hostPort}-${USER_NET.guestIp}:${request.guest_port}`,
      );
      if (output.trim() === "") {
        return {
          host: PUBLISH_HOST,
          host_port: hostPort,
          guest_port: request.guest_port,
          protocol: "tcp",
        };
      }
      if (request.host_port === null && attempt < FREE_PORT_TRIES) continue;
      throw new PyroError(
        "PORT_IN_USE",
        `cannot publish guest port ${request.guest_port} on ${PUBLISH_HOST}:${hostPort}: the host port is taken`,
        {
          hint: `Pick another host port (--publish OTHER:${request.guest_port}), or give only the guest port (--publish ${request.guest_port}) for a free one.`,
          details: {
            host_port: hostPort,
            guest_port: request.guest_port,
            qemu: output.trim().slice(0, 300),
          },
        },
      );
    }
  }

  /** One monitor command, after the ones before it; its text output (empty means success). */
  private hmp(command: string): Promise<string> {
    const run = this.queue.then(async () => {
      const qmp = await QmpClient.connect(this.qmpSocket);
      try {
        const reply = await qmp.execute(
          "human-monitor-command",
          { "command-line": command },
          10_000,
        );
        return typeof reply === "string" ? reply : "";
      } finally {
        qmp.close();
      }
    });
    this.queue = run.catch(() => undefined);
    return run.catch((error: unknown) => {
      const typed = toPyroError(error);
      throw new PyroError(typed.code, `publishing a port failed: ${typed.message}`, {
        hint: "The workspace's VM may have stopped; check `pyro workspace status`.",
      });
    });
  }
}

/** A port nothing listens on right now, on the loopback address published ports use. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, PUBLISH_HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}
