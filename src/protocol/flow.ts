import { ProtocolError } from "./frame.js";
import { DEFAULT_WINDOW_BYTES, MAX_WINDOW_BYTES } from "./messages.js";

/**
 * Output flow control (docs/protocol.md, "Flow control"), host side. The agent may send a
 * channel's output only within the credit the host granted: the exec's `window`, plus every
 * `credit` frame since. Both sides clamp the credit at MAX_WINDOW_BYTES in the same way, so the
 * host can tell exactly when a guest sends more than it was allowed.
 */
export class CreditLimit {
  private left: number;

  constructor(window: number) {
    this.left = Math.min(window, MAX_WINDOW_BYTES);
  }

  grant(bytes: number): void {
    this.left = Math.min(this.left + bytes, MAX_WINDOW_BYTES);
  }

  /** Output arrived; a guest that exceeds its credit breaks the protocol. */
  spend(bytes: number): void {
    if (bytes > this.left) {
      throw new ProtocolError(
        `guest sent ${bytes} bytes of output with ${this.left} bytes of credit`,
      );
    }
    this.left -= bytes;
  }
}

/**
 * The consumer side: output handed on (written out, buffered in a bounded ring) is granted back
 * in batches of a quarter window, so credit frames stay rare while the guest never stalls on a
 * reader that keeps up.
 */
export class CreditGranter {
  readonly limit: CreditLimit;
  private owed = 0;

  constructor(
    private readonly send: (bytes: number) => void,
    readonly window = DEFAULT_WINDOW_BYTES,
  ) {
    this.limit = new CreditLimit(window);
  }

  consumed(bytes: number): void {
    this.owed += bytes;
    if (this.owed < Math.max(1, this.window / 4)) return;
    const bytesToGrant = this.owed;
    this.owed = 0;
    this.limit.grant(bytesToGrant);
    this.send(bytesToGrant);
  }
}
