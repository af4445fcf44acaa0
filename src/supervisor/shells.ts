import { StringDecoder } from "node:string_decoder";
import { PyroError } from "../core/errors.js";
import {
  checkCols,
  checkCursor,
  checkGuestCwd,
  checkInput,
  checkMaxChars,
  checkRows,
  checkShellId,
  checkSignal,
  checkWaitForIdle,
  MAX_IDLE_WAIT_MS,
} from "../core/workspace/shell-service-args.js";
import { checkExecEnv } from "../core/workspace/exec-env.js";
import { endedExec, ownExec, sleep, type OwnExec } from "./agent-exec.js";
import type { Multiplexer } from "./mux.js";
import { OutputBuffer, type SavedBuffer } from "./output-buffer.js";
import type {
  ShellReadPayload as HostShellReadPayload,
  ShellRecord,
} from "../core/workspace/shells.js";

/** Characters of output each shell keeps; older output is dropped and reported as truncated. */
export const SHELL_BUFFER_CHARS = 1024 * 1024;
/** Open plus stopped-but-not-closed shells per workspace. */
export const MAX_SHELLS = 32;

/** The user's login shell: bash when the image has it, else sh. */
const LOGIN_SHELL = ["/bin/sh", "-c", "[ -x /bin/bash ] && exec /bin/bash -l; exec /bin/sh -l"];

type ShellReadPayload = Omit<HostShellReadPayload, "plain">;

interface Shell {
  record: ShellRecord;
  exec: OwnExec;
  buffer: OutputBuffer;
  /** Time of the last output or input: `--wait-for-idle-ms` waits for it to be old enough. */
  activity: { at: number };
  exited: Promise<void>;
}

/** A shell as a full snapshot keeps it (src/supervisor/full-snapshot.ts). */
export interface SavedShell {
  record: ShellRecord;
  channel: number;
  done: boolean;
  buffer: SavedBuffer;
}

/** The PTY shells of one workspace, owned by its supervisor. */
export class ShellTable {
  private readonly shells = new Map<string, Shell>();

  /** Shells held (open or stopped but not closed). */
  get size(): number {
    return this.shells.size;
  }
  private nextId = 1;

  constructor(
    private readonly mux: Multiplexer,
    private readonly workspaceId: string,
    private readonly capabilities: readonly string[],
  ) {}

  async open(body: Record<string, unknown>): Promise<ShellRecord> {
    const cwd = checkGuestCwd(body.cwd);
    const cols = checkCols(body.cols);
    const rows = checkRows(body.rows);
    const env = checkExecEnv(body.env);
    if (!this.capabilities.includes("pty")) {
      throw new PyroError("GUEST_ERROR", "this workspace's guest agent has no PTY support", {
        hint: "Rebuild the agent (`sh scripts/build-agent.sh`) and reset the workspace.",
      });
    }
    if (this.shells.size >= MAX_SHELLS) {
      throw new PyroError("LIMIT_REACHED", `this workspace already has ${MAX_SHELLS} shells`, {
        hint: "Close shells you no longer need with `pyro workspace shell close`.",
      });
    }
    const shellId = `shell-${this.nextId++}`;
    const buffer = new OutputBuffer(SHELL_BUFFER_CHARS);
    const decoder = new StringDecoder("utf8");
    const record: ShellRecord = {
      workspace_id: this.workspaceId,
      shell_id: shellId,
      cwd,
      cols,
      rows,
      state: "running",
      pid: null,
      started_at: new Date().toISOString(),
      ended_at: null,
      exit_code: null,
      execution_mode: "guest_agent",
    };
    const activity = { at: Date.now() };
    const exec = ownExec(
      this.mux,
      { argv: LOGIN_SHELL, cwd, pty: true, cols, rows, stdin: true, env },
      shellOutput(buffer, decoder, activity),
    );
    const exited = whenShellEnds(exec, record, buffer, decoder);
    const shell: Shell = { record, exec, buffer, activity, exited };
    record.pid = await exec.started; // a bad cwd rejects here, before the shell is listed
    this.shells.set(shellId, shell);
    return { ...record };
  }

  /** The table as a full snapshot keeps it (the VM is paused while this runs). */
  save(): { next_id: number; shells: SavedShell[] } {
    return {
      next_id: this.nextId,
      shells: [...this.shells.values()].map((s) => ({
        record: { ...s.record },
        channel: s.exec.channel,
        done: s.exec.done,
        buffer: s.buffer.save(),
      })),
    };
  }

  /**
   * Take back the shells of a VM restored from a full snapshot: the agent still runs them on the
   * same channels, so output, input and cursors go on where the snapshot was taken.
   */
  adopt(saved: { next_id: number; shells: SavedShell[] }, workspaceId: string): void {
    this.nextId = Math.max(this.nextId, saved.next_id);
    for (const s of saved.shells) {
      const record: ShellRecord = { ...s.record, workspace_id: workspaceId };
      const buffer = OutputBuffer.restore(SHELL_BUFFER_CHARS, s.buffer);
      const decoder = new StringDecoder("utf8");
      const activity = { at: Date.now() };
      const running = record.state === "running" && !s.done;
      const exec = running
        ? ownExec(this.mux, { argv: LOGIN_SHELL }, shellOutput(buffer, decoder, activity), {
            channel: s.channel,
            pid: record.pid ?? 0,
          })
        : endedExec(s.channel, record.exit_code);
      const exited = running ? whenShellEnds(exec, record, buffer, decoder) : Promise.resolve();
      this.shells.set(record.shell_id, { record, exec, buffer, activity, exited });
    }
  }

  async read(body: Record<string, unknown>): Promise<ShellReadPayload> {
    const shell = this.get(body.shell_id);
    const cursor = checkCursor(body.cursor);
    const maxChars = checkMaxChars(body.max_chars);
    const waitMs = checkWaitForIdle(body.wait_for_idle_ms);
    if (waitMs > 0) {
      const deadline = Date.now() + MAX_IDLE_WAIT_MS;
      while (shell.record.state === "running") {
        const now = Date.now();
        const quiet = now - shell.activity.at;
        if (quiet >= waitMs || now >= deadline) break;
        await Promise.race([sleep(Math.min(waitMs - quiet, deadline - now)), shell.exited]);
      }
    }
    const read = shell.buffer.read(cursor, maxChars);
    return {
      workspace_id: this.workspaceId,
      shell_id: shell.record.shell_id,
      state: shell.record.state,
      exit_code: shell.record.exit_code,
      ...read,
    };
  }

  write(body: Record<string, unknown>): ShellRecord & { input_chars: number } {
    const shell = this.running(body.shell_id, "write to");
    const input = checkInput(body.input);
    shell.activity.at = Date.now();
    shell.exec.write(Buffer.from(input, "utf8"));
    return { ...shell.record, input_chars: input.length };
  }

  signal(body: Record<string, unknown>): ShellRecord & { signal: string } {
    const shell = this.running(body.shell_id, "signal");
    const signal = checkSignal(body.signal_name);
    shell.exec.signal(signal);
    return { ...shell.record, signal };
  }

  resize(body: Record<string, unknown>): ShellRecord {
    const shell = this.running(body.shell_id, "resize");
    const cols = checkCols(body.cols);
    const rows = checkRows(body.rows);
    shell.exec.resize(cols, rows);
    shell.record.cols = cols;
    shell.record.rows = rows;
    return { ...shell.record };
  }

  /** Hang up (HUP, as a closed terminal does), KILL after a second, and forget the shell. */
  async close(body: Record<string, unknown>): Promise<ShellRecord & { closed: true }> {
    const shell = this.get(body.shell_id);
    this.shells.delete(shell.record.shell_id);
    if (shell.record.state === "running") {
      shell.exec.signal("HUP");
      if (!(await settled(shell.exited, 1000))) {
        shell.exec.signal("KILL");
        await settled(shell.exited, 3000);
      }
    }
    return { ...shell.record, closed: true };
  }

  list(): { workspace_id: string; count: number; shells: ShellRecord[] } {
    const shells = [...this.shells.values()].map((s) => ({ ...s.record }));
    return { workspace_id: this.workspaceId, count: shells.length, shells };
  }

  private get(id: unknown): Shell {
    const shellId = checkShellId(id);
    const shell = this.shells.get(shellId);
    if (!shell) {
      throw new PyroError(
        "SHELL_NOT_FOUND",
        `no shell ${shellId} in workspace ${this.workspaceId}`,
        {
          hint: `List open shells with \`pyro workspace shell list ${this.workspaceId}\`; a reset closes every shell.`,
        },
      );
    }
    return shell;
  }

  private running(id: unknown, verb: string): Shell {
    const shell = this.get(id);
    if (shell.record.state !== "running") {
      throw new PyroError(
        "SHELL_NOT_RUNNING",
        `cannot ${verb} ${shell.record.shell_id}: its shell exited (exit code ${String(shell.record.exit_code)})`,
        {
          hint: "Its output can still be read; open a new shell with `pyro workspace shell open`.",
        },
      );
    }
    return shell;
  }
}

/** Whether `promise` settled within `ms`. */
export async function settled(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A shell's output goes to its buffer (decoded as UTF-8 across chunks) and marks activity. */
function shellOutput(
  buffer: OutputBuffer,
  decoder: StringDecoder,
  activity: { at: number },
): { onStdout: (chunk: Buffer) => void } {
  return {
    onStdout: (chunk) => {
      buffer.append(decoder.write(chunk));
      activity.at = Date.now();
    },
  };
}

/** The record turns stopped (with the exit code when there is one) once the shell's process ends. */
function whenShellEnds(
  exec: OwnExec,
  record: ShellRecord,
  buffer: OutputBuffer,
  decoder: StringDecoder,
): Promise<void> {
  return exec.result.then(
    (exit) => {
      buffer.append(decoder.end());
      record.state = "stopped";
      record.exit_code = exit.exitCode;
      record.ended_at = new Date().toISOString();
    },
    () => {
      record.state = "stopped";
      record.ended_at = new Date().toISOString();
    },
  );
}
