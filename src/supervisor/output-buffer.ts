/**
 * An append-only text buffer read by absolute cursors and bounded in memory: once more than
 * `limit` characters were appended, the oldest are dropped. Cursors never move: a cursor counts
 * characters since the buffer was created, so a reader that fell behind learns exactly how many
 * characters it lost.
 */
export interface BufferRead {
  output: string;
  /** Where `output` starts; greater than the requested cursor when characters were lost. */
  cursor: number;
  next_cursor: number;
  /** True when the requested cursor pointed at characters that were already dropped. */
  truncated: boolean;
  /** How many characters between the requested cursor and `cursor` were dropped. */
  truncated_chars: number;
  /** Cursor just past the last character appended so far. */
  end_cursor: number;
}

export interface SavedBuffer {
  start: number;
  text: string;
}

export class OutputBuffer {
  private chunks: string[] = [];
  private first = 0; // absolute cursor of chunks[0][0]
  private size = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be positive");
  }

  /** Cursor of the oldest character still held. */
  get start(): number {
    return this.first;
  }

  /** Cursor just past the newest character. */
  get end(): number {
    return this.first + this.size;
  }

  append(text: string): void {
    if (text === "") return;
    if (text.length >= this.limit) {
      const dropped = this.size + text.length - this.limit;
      this.chunks = [text.slice(text.length - this.limit)];
      this.first += dropped;
      this.size = this.limit;
      return;
    }
    this.chunks.push(text);
    this.size += text.length;
    while (this.size > this.limit) {
      const head = this.chunks[0] as string;
      const excess = this.size - this.limit;
      if (head.length <= excess) {
        this.chunks.shift();
        this.first += head.length;
        this.size -= head.length;
      } else {
        this.chunks[0] = head.slice(excess);
        this.first += excess;
        this.size -= excess;
      }
    }
  }

  /** What a full snapshot keeps: the text held and where it starts (cursors stay valid). */
  save(): SavedBuffer {
    return { start: this.first, text: this.slice(this.first, this.end) };
  }

  /** A buffer as `save` left it (a full snapshot's shell or service output). */
  static restore(limit: number, saved: SavedBuffer): OutputBuffer {
    const buffer = new OutputBuffer(limit);
    buffer.first = Math.max(0, Math.floor(saved.start));
    buffer.append(saved.text);
    return buffer;
  }

  /** Up to `maxChars` characters from `cursor`; a cursor past the end reads nothing at the end. */
  read(cursor: number, maxChars: number): BufferRead {
    const wanted = Math.max(0, Math.floor(cursor));
    const from = Math.min(Math.max(wanted, this.first), this.end);
    const lost = wanted < this.first ? this.first - wanted : 0;
    let output = this.slice(from, Math.min(this.end, from + Math.max(0, maxChars)));
    // Never split a UTF-16 surrogate pair at the end of a read.
    const last = output.charCodeAt(output.length - 1);
    if (output.length > 1 && last >= 0xd800 && last <= 0xdbff) output = output.slice(0, -1);
    return {
      output,
      cursor: from,
      next_cursor: from + output.length,
      truncated: lost > 0,
      truncated_chars: lost,
      end_cursor: this.end,
    };
  }

  /** The last `lines` lines held (all of them when `lines` is undefined). */
  tailLines(lines: number | undefined): { text: string; truncated: boolean } {
    const all = this.slice(this.first, this.end);
    const dropped = this.first > 0;
    if (lines === undefined) return { text: all, truncated: dropped };
    if (lines <= 0) return { text: "", truncated: all !== "" || dropped };
    // A final newline ends the last line; it does not start a new one.
    const body = all.endsWith("\n") ? all.slice(0, -1) : all;
    let from = 0;
    let pos = body.length;
    for (let remaining = lines; remaining > 0; remaining -= 1) {
      const nl = pos > 0 ? body.lastIndexOf("\n", pos - 1) : -1;
      if (nl < 0) {
        from = 0;
        break;
      }
      from = nl + 1;
      pos = nl;
    }
    return { text: all.slice(from), truncated: from > 0 || dropped };
  }

  private slice(from: number, to: number): string {
    if (to <= from) return "";
    const parts: string[] = [];
    let offset = this.first;
    for (const chunk of this.chunks) {
      const chunkEnd = offset + chunk.length;
      if (chunkEnd > from && offset < to) {
        parts.push(chunk.slice(Math.max(0, from - offset), Math.min(chunk.length, to - offset)));
      }
      if (chunkEnd >= to) break;
      offset = chunkEnd;
    }
    return parts.join("");
  }
}
