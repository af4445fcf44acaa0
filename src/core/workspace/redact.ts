import type { ExecHandlers } from "../../protocol/client.js";
import { PyroError } from "../errors.js";

/**
 * Redaction of secret values from everything that leaves pyro. Whole texts are searched for
 * every value; streams go through a redactor that holds back only the bytes that could still
 * turn into a value (at most the longest value's length minus one), so a value split across two
 * chunks is caught while the rest of the output flows on at once.
 */
export const REDACTED = "[REDACTED]";

/** Longest first, so a value that contains another is replaced whole. */
function ordered(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => v.length > 0))].sort((a, b) => b.length - a.length);
}

export function redactText(text: string, values: readonly string[]): string {
  let out = text;
  for (const value of ordered(values)) out = out.split(value).join(REDACTED);
  return out;
}

/** Every string inside a JSON-like value, redacted; anything else is returned as it is. */
export function redactDeep<T>(value: T, values: readonly string[]): T {
  if (values.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return redactText(v, values);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object" && !Buffer.isBuffer(v)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(v)) out[key] = walk(item);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

/** An error with its message, hint and details redacted; its code is kept. */
export function redactError(error: unknown, values: readonly string[]): unknown {
  if (values.length === 0 || !(error instanceof Error)) return error;
  if (error instanceof PyroError) {
    return new PyroError(error.code, redactText(error.message, values), {
      ...(error.hint !== undefined ? { hint: redactText(error.hint, values) } : {}),
      ...(error.details !== undefined ? { details: redactDeep(error.details, values) } : {}),
    });
  }
  const message = redactText(error.message, values);
  return message === error.message ? error : new Error(message);
}

/**
 * Length of the longest proper suffix of `data` that is the start of some value: what must wait
 * for the next chunk before it can be passed on.
 */
export function pendingBytes(data: Buffer, values: readonly Buffer[]): number {
  let longest = 0;
  for (const value of values) {
    for (let n = Math.min(value.length - 1, data.length); n > longest; n -= 1) {
      if (data.subarray(data.length - n).equals(value.subarray(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

/** The same for text (shell output, whose cursors count characters). */
export function pendingChars(text: string, values: readonly string[]): number {
  let longest = 0;
  for (const value of values) {
    for (let n = Math.min(value.length - 1, text.length); n > longest; n -= 1) {
      if (text.endsWith(value.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

function replaceBytes(data: Buffer, value: Buffer, marker: Buffer): Buffer {
  let at = data.indexOf(value);
  if (at < 0) return data;
  const parts: Buffer[] = [];
  let from = 0;
  while (at >= 0) {
    parts.push(data.subarray(from, at), marker);
    from = at + value.length;
    at = data.indexOf(value, from);
  }
  parts.push(data.subarray(from));
  return Buffer.concat(parts);
}

/** A byte stream with every value replaced; holds back at most the longest value's length - 1. */
export class StreamRedactor {
  private readonly values: Buffer[];
  private readonly marker = Buffer.from(REDACTED);
  private pending: Buffer = Buffer.alloc(0);

  constructor(values: readonly string[]) {
    this.values = ordered(values).map((v) => Buffer.from(v, "utf8"));
  }

  /** The bytes that can be passed on now. */
  push(chunk: Buffer): Buffer {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (const value of this.values) data = replaceBytes(data, value, this.marker);
    const hold = pendingBytes(data, this.values);
    this.pending = Buffer.from(data.subarray(data.length - hold));
    return data.subarray(0, data.length - hold);
  }

  /** At the end of the stream: what was held back (it never became a value). */
  end(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }
}

/**
 * Handlers that redact stdout and stderr before passing them on; `flush` passes on what was held
 * back once the command has ended.
 */
export function redactHandlers(
  handlers: Required<ExecHandlers>,
  values: readonly string[],
): { handlers: Required<ExecHandlers>; flush(): Promise<void> } {
  if (ordered(values).length === 0) return { handlers, flush: async () => undefined };
  const out = new StreamRedactor(values);
  const err = new StreamRedactor(values);
  const pass = (chunk: Buffer, onward: (c: Buffer) => unknown) =>
    chunk.length > 0 ? onward(chunk) : undefined;
  return {
    handlers: {
      onStdout: (chunk) => pass(out.push(chunk), handlers.onStdout),
      onStderr: (chunk) => pass(err.push(chunk), handlers.onStderr),
    },
    flush: async () => {
      await pass(out.end(), handlers.onStdout);
      await pass(err.end(), handlers.onStderr);
    },
  };
}
