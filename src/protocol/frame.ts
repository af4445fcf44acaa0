import { MAX_FRAME_BYTES, MAX_HEADER_BYTES } from "./messages.js";

/**
 * Frame codec. Layout (little-endian u32s): frame_len, channel, header_len, JSON header, payload.
 * The decoder treats its input as hostile: sizes are checked before anything is allocated, and the
 * header must be a JSON object with a string `type`.
 */
export interface Frame {
  channel: number;
  header: { type: string; [key: string]: unknown };
  payload: Buffer;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

const EMPTY = Buffer.alloc(0);

export function encodeFrame(
  channel: number,
  header: Record<string, unknown>,
  payload: Uint8Array = EMPTY,
): Buffer {
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  if (headerBytes.length > MAX_HEADER_BYTES) throw new ProtocolError("frame header too large");
  const frameLen = 8 + headerBytes.length + payload.length;
  if (frameLen > MAX_FRAME_BYTES) throw new ProtocolError("frame too large");
  const prefix = Buffer.alloc(12);
  prefix.writeUInt32LE(frameLen, 0);
  prefix.writeUInt32LE(channel >>> 0, 4);
  prefix.writeUInt32LE(headerBytes.length, 8);
  return Buffer.concat([prefix, headerBytes, payload]);
}

/** Incremental decoder: push bytes as they arrive, take whole frames out. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(data: Buffer): Frame[] {
    this.chunks.push(data);
    this.buffered += data.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(12);
      const frameLen = head.readUInt32LE(0);
      if (frameLen < 8 || frameLen > MAX_FRAME_BYTES) {
        throw new ProtocolError(`frame length ${frameLen} outside 8..${MAX_FRAME_BYTES}`);
      }
      if (head.length >= 12) {
        const headerLen = head.readUInt32LE(8);
        if (headerLen > MAX_HEADER_BYTES || headerLen > frameLen - 8) {
          throw new ProtocolError(`frame header length ${headerLen} is invalid`);
        }
      }
      if (this.buffered < 4 + frameLen) break;
      frames.push(parseBody(this.take(4 + frameLen)));
    }
    return frames;
  }

  private peek(count: number): Buffer {
    // Concatenate only when the first chunk is too short to hold the prefix.
    if ((this.chunks[0]?.length ?? 0) < count && this.chunks.length > 1) {
      this.chunks = [Buffer.concat(this.chunks)];
    }
    const only = this.chunks[0] ?? EMPTY;
    return only.subarray(0, Math.min(count, only.length));
  }

  private take(count: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const out = all.subarray(0, count);
    const rest = all.subarray(count);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

function parseBody(frame: Buffer): Frame {
  const channel = frame.readUInt32LE(4);
  const headerLen = frame.readUInt32LE(8);
  let header: unknown;
  try {
    header = JSON.parse(frame.subarray(12, 12 + headerLen).toString("utf8"));
  } catch {
    throw new ProtocolError("frame header is not valid JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new ProtocolError("frame header is not a JSON object");
  }
  const type = (header as Record<string, unknown>).type;
  if (typeof type !== "string") throw new ProtocolError("frame header has no string type");
  // Copy the payload so the decoder's buffer can be released.
  return {
    channel,
    header: header as Frame["header"],
    payload: Buffer.from(frame.subarray(12 + headerLen)),
  };
}
