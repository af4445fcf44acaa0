import type net from "node:net";
import { takeHandshakeRest } from "../protocol/client.js";
import { CreditLimit } from "../protocol/flow.js";
import { encodeFrame, FrameDecoder, type Frame } from "../protocol/frame.js";
import { AGENT_VERSION, MESSAGE_TYPES as T, PROTOCOL_VERSION } from "../protocol/messages.js";

/**
 * Many clients, one agent connection. Each client speaks the agent protocol to the supervisor as
 * if it were the agent; request channels are renumbered onto the single agent connection and
 * replies routed back. A client that goes away has its running processes killed, so a killed CLI
 * never leaves an orphan command in the guest.
 *
 * Output is flow-controlled end to end: a client's exec carries its window and its `credit`
 * frames pass through, so a slow client stops only its own processes in the guest. The
 * supervisor keeps the same ledger of credit per routed channel; an agent that sends more than
 * its client allowed breaks the protocol, so no client socket buffers more than its window.
 */
interface Route {
  client: ClientLink;
  clientChannel: number;
  credit: CreditLimit;
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
  private readonly agentDecoder: FrameDecoder;
  private agent: net.Socket;
  private readonly clients = new Set<ClientLink>();
  /** Bytes read from the agent so far: the idle collector's measure of activity. */
  bytesFromAgent = 0;

  constructor(
    agent: net.Socket,
    private readonly agentHello: Record<string, unknown>,
    private readonly control: ControlHandler = () => false,
    private readonly onAgentBroken: (error: Error) => void = () => undefined,
  ) {
    // Start exactly where the handshake stopped (a repeated hello answer may be half read).
    this.agent = agent;
    const rest = takeHandshakeRest(agent);
    this.agentDecoder = rest.decoder;
    this.listen(agent);
    this.fromAgentAll(rest.frames);
    agent.resume();
  }

  private listen(agent: net.Socket): void {
    agent.on("data", (data: Buffer) => {
      this.bytesFromAgent += data.length;
      let frames: Frame[];
      try {
        frames = this.agentDecoder.push(data);
      } catch (error) {
        this.onAgentBroken(error as Error);
        return;
      }
      this.fromAgentAll(frames);
    });
  }

  /**
   * `workspace stop` with shells or services: the VM is saved and ended; requests routed for
   * clients end with WORKSPACE_STOPPED (their processes are paused with the VM) and nothing is
   * written to the agent until `resumeAgent`.
   */
  suspendAgent(): void {
    for (const [agentChannel, route] of this.routes) {
      this.routes.delete(agentChannel);
      route.client.channels.delete(route.clientChannel);
      route.client.socket.write(
        encodeFrame(route.clientChannel, {
          type: T.ERROR,
          code: "WORKSPACE_STOPPED",
          message: "the workspace was stopped while the command ran",
        }),
      );
    }
    this.agent.removeAllListeners("data");
  }

  /**
   * `workspace start` of a VM this supervisor saved: the agent never saw its host go, so the
   * byte stream goes on where it stopped, with the same decoder (a frame the old QEMU had half
   * passed on is finished by the restored one).
   */
  resumeAgent(agent: net.Socket): void {
    this.agent = agent;
    this.listen(agent);
    agent.resume();
  }

  private fromAgentAll(frames: Frame[]): void {
    try {
      for (const frame of frames) this.fromAgent(frame);
    } catch (error) {
      this.onAgentBroken(error as Error);
    }
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

  /**
   * For a full snapshot: the next channel number and the channels open now. A VM restored from
   * it goes on numbering from there, and ends the channels nobody takes back.
   */
  saveChannels(): { next: number; open: number[] } {
    return {
      next: this.nextAgentChannel,
      open: [...this.routes.keys(), ...this.ownChannelHandlers.keys()].filter((c) => c > 0),
    };
  }

  continueChannelsFrom(next: number): void {
    if (Number.isSafeInteger(next) && next > 0 && next < 0x7ffffff0) this.nextAgentChannel = next;
  }

  allocateAgentChannel(): number {
    const channel = this.nextAgentChannel;
    this.nextAgentChannel = channel >= 0x7ffffff0 ? 1 : channel + 1;
    return channel;
  }

  private fromClient(client: ClientLink, frame: Frame): void {
    if (frame.channel === 0) {
      if (frame.header.type === T.HELLO) {
        if (frame.header.protocol !== PROTOCOL_VERSION) {
          client.socket.write(
            encodeFrame(0, {
              type: T.ERROR,
              code: "PROTOCOL_MISMATCH",
              message: `supervisor speaks protocol ${PROTOCOL_VERSION}`,
              protocol: PROTOCOL_VERSION,
            }),
          );
          return;
        }
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
      // stdin, credit or signals racing the exit of a finished channel: nothing to do.
      if (frame.header.type !== T.EXEC) return;
      const window = frame.header.window;
      if (!isByteCount(window)) {
        // Every routed stream must be flow-controlled, or one slow client could grow our memory.
        client.socket.write(
          encodeFrame(frame.channel, {
            type: T.ERROR,
            code: "BAD_REQUEST",
            message: 'a channel opens with an exec that has a "window"',
          }),
        );
        return;
      }
      agentChannel = this.allocateAgentChannel();
      client.channels.set(frame.channel, agentChannel);
      this.routes.set(agentChannel, {
        client,
        clientChannel: frame.channel,
        credit: new CreditLimit(window),
      });
    } else if (frame.header.type === T.CREDIT) {
      const bytes = frame.header.bytes;
      if (isByteCount(bytes)) this.routes.get(agentChannel)?.credit.grant(bytes);
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
    if (frame.header.type === T.STDOUT || frame.header.type === T.STDERR) {
      route.credit.spend(frame.payload.length); // throws: the agent broke the protocol
    }
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

function isByteCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
