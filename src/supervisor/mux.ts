import type net from "node:net";
import { encodeFrame, FrameDecoder, type Frame } from "../protocol/frame.js";
import { AGENT_VERSION, MESSAGE_TYPES as T, PROTOCOL_VERSION } from "../protocol/messages.js";

/**
 * Many clients, one agent connection. Each client speaks the agent protocol to the supervisor as
 * if it were the agent; request channels are renumbered onto the single agent connection and
 * replies routed back. A client that goes away has its running processes killed, so a killed CLI
 * never leaves an orphan command in the guest.
 */
interface Route {
  client: ClientLink;
  clientChannel: number;
}

export interface ClientLink {
  id: number;
  socket: net.Socket;
  channels: Map<number, number>; // client channel -> agent channel
  greeted: boolean;
}

export type ControlHandler = (client: ClientLink, frame: Frame) => boolean;

export class Multiplexer {
  private readonly routes = new Map<number, Route>();
  private nextAgentChannel = 1;
  private nextClientId = 1;
  private readonly agentDecoder = new FrameDecoder();
  private readonly clients = new Set<ClientLink>();

  constructor(
    private readonly agent: net.Socket,
    private readonly agentHello: Record<string, unknown>,
    private readonly control: ControlHandler = () => false,
    private readonly onAgentBroken: (error: Error) => void = () => undefined,
  ) {
    agent.on("data", (data: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.agentDecoder.push(data);
      } catch (error) {
        this.onAgentBroken(error as Error);
        return;
      }
      for (const frame of frames) this.fromAgent(frame);
    });
  }

  get clientCount(): number {
    return this.clients.size;
  }

  attach(socket: net.Socket): void {
    const client: ClientLink = {
      id: this.nextClientId++,
      socket,
      channels: new Map(),
      greeted: false,
    };
    this.clients.add(client);
    const decoder = new FrameDecoder();
    socket.on("data", (data: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(data);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) this.fromClient(client, frame);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.detach(client));
  }

  /** Send a frame to the agent on a channel the supervisor itself owns (shells, probes). */
  sendToAgent(channel: number, header: Record<string, unknown>, payload?: Buffer): void {
    this.agent.write(encodeFrame(channel, header, payload));
  }

  allocateAgentChannel(): number {
    const channel = this.nextAgentChannel;
    this.nextAgentChannel = channel >= 0x7ffffff0 ? 1 : channel + 1;
    return channel;
  }

  private fromClient(client: ClientLink, frame: Frame): void {
    if (frame.channel === 0) {
      if (frame.header.type === T.HELLO) {
        client.greeted = true;
        client.socket.write(
          encodeFrame(0, {
            ...this.agentHello,
            type: T.HELLO,
            protocol: PROTOCOL_VERSION,
            supervisor_version: AGENT_VERSION,
          }),
        );
        return;
      }
      if (frame.header.type === T.PING) {
        client.socket.write(encodeFrame(0, { type: T.PONG }));
        return;
      }
      if (!this.control(client, frame)) {
        client.socket.write(
          encodeFrame(0, {
            type: T.ERROR,
            code: "UNKNOWN_TYPE",
            message: `unknown control message ${frame.header.type}`,
          }),
        );
      }
      return;
    }
    if (!client.greeted) return;
    let agentChannel = client.channels.get(frame.channel);
    if (agentChannel === undefined) {
      agentChannel = this.allocateAgentChannel();
      client.channels.set(frame.channel, agentChannel);
      this.routes.set(agentChannel, { client, clientChannel: frame.channel });
    }
    this.agent.write(encodeFrame(agentChannel, frame.header, frame.payload));
  }

  /** Frames on channels not routed to a client go to the supervisor's own handlers. */
  ownChannelHandlers = new Map<number, (frame: Frame) => void>();

  private fromAgent(frame: Frame): void {
    const own = this.ownChannelHandlers.get(frame.channel);
    if (own) {
      own(frame);
      return;
    }
    const route = this.routes.get(frame.channel);
    if (!route) return;
    const last = frame.header.type === T.EXIT || frame.header.type === T.ERROR;
    if (last) {
      this.routes.delete(frame.channel);
      route.client.channels.delete(route.clientChannel);
    }
    if (!route.client.socket.destroyed) {
      route.client.socket.write(encodeFrame(route.clientChannel, frame.header, frame.payload));
    }
  }

  private detach(client: ClientLink): void {
    this.clients.delete(client);
    for (const agentChannel of client.channels.values()) {
      // The requester is gone: stop what it started. The exit frame then clears the route.
      this.agent.write(encodeFrame(agentChannel, { type: T.SIGNAL, signal: "KILL" }));
    }
  }
}
