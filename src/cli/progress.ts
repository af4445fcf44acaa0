import cliProgress from "cli-progress";
import type { ProgressListener, PullProgress } from "../environments/build.js";

/**
 * Pull progress for humans: phase lines always (on stderr), plus a progress bar when stderr is a
 * terminal. Phase lines keep logs and CI output readable.
 */
export function pullProgressReporter(prefix: string): {
  listener: ProgressListener;
  stop: () => void;
} {
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: `${prefix} {bar} {percentage}% {phase} {detail}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let lastPhase: string | undefined;
  let started = false;
  const listener = (progress: PullProgress) => {
    if (progress.phase !== lastPhase) {
      lastPhase = progress.phase;
      const line = `${prefix} phase=${progress.phase} environment=${progress.environment}\n`;
      if (bar && started) bar.stop();
      process.stderr.write(line);
      if (bar && progress.phase !== "ready") {
        bar.start(100, Math.round(progress.fraction * 100), { phase: progress.phase, detail: "" });
        started = true;
      }
      return;
    }
    bar?.update(Math.round(progress.fraction * 100), {
      phase: progress.phase,
      detail: (progress.detail ?? "").slice(0, 40),
    });
  };
  return { listener, stop: () => (started ? bar?.stop() : undefined) };
}
