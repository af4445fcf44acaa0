/**
 * A burst of output leaves V8's heap grown (up to 40 MiB private after 80 MB relayed) until its
 * next collection, which an idle process may not run for minutes. The supervisor lives as long as
 * its workspace, mostly idle, so once traffic stops it collects fully and the heap shrinks back
 * (to about 12 MiB). Needs `--expose-gc` (src/supervisor/node-flags.ts); without it, nothing runs.
 */
export function collectWhenIdle(activity: () => number, periodMs = 5_000): () => void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) return () => undefined;
  let seen = activity();
  let pending = false;
  const timer = setInterval(() => {
    const now = activity();
    if (now !== seen) {
      // Still busy: collect once it has been quiet for a whole period.
      seen = now;
      pending = true;
    } else if (pending) {
      pending = false;
      collect();
    }
  }, periodMs);
  timer.unref();
  return () => clearInterval(timer);
}
