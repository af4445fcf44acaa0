/**
 * A host-side deadline for one guest call. Time during which the host itself holds the call up
 * (its reader has not taken the output yet, so the guest is waiting for credit) is not the
 * guest's fault: when the deadline passes while the consumer is busy, the guest gets one more
 * grace period from the moment the consumer catches up.
 */
export class CallDeadline {
  private timer: NodeJS.Timeout | undefined;
  private passedWhileBusy = false;
  private stopped = false;

  constructor(
    ms: number | null,
    private readonly graceMs: number,
    private readonly consumerBusy: () => boolean,
    private readonly onExpire: () => void,
  ) {
    if (ms !== null) this.arm(ms);
  }

  /** The consumer has caught up with everything the guest sent. */
  consumerIdle(): void {
    if (!this.passedWhileBusy || this.stopped) return;
    this.passedWhileBusy = false;
    this.arm(this.graceMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      if (this.consumerBusy()) this.passedWhileBusy = true;
      else this.onExpire();
    }, ms);
  }
}
