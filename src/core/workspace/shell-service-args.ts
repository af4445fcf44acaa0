import path from "node:path";
import { SERVICE_DEFAULTS, SHELL_DEFAULTS } from "../../contract.js";
import { invalidArgument, PyroError } from "../errors.js";
import { SIGNAL_NAMES, type SignalName } from "../../protocol/messages.js";
import { WORKSPACE_GUEST_PATH } from "./layout.js";
import { workspaceRelative } from "./paths-in-guest.js";

/**
 * Argument checks for shells and services, shared by the host (so every surface rejects bad input
 * the same way, before a connection is opened) and the supervisor (which checks again what it is
 * sent). Each check returns the normalized value or throws a PyroError naming the flag.
 */
export const SHELL_SERVICE_LIMITS = {
  cols: { min: 1, max: 1000 },
  rows: { min: 1, max: 1000 },
  maxChars: { min: 1, max: 1_048_576 },
  waitForIdleMs: { min: 0, max: 30_000 },
  inputChars: 65_536,
  commandChars: 65_536,
  readyTimeoutSeconds: { min: 1, max: 3600 },
  readyIntervalMs: { min: 50, max: 60_000 },
  tailLines: { min: 0, max: 1_000_000 },
} as const;

/** Longest any `shell read --wait-for-idle-ms` waits in total, whatever the shell prints. */
export const MAX_IDLE_WAIT_MS = 30_000;

export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SHELL_ID_PATTERN = /^shell-[1-9][0-9]{0,9}$/;

export function checkInt(
  value: unknown,
  flag: string,
  range: { min: number; max: number },
  fallback?: number,
): number {
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    value < range.min ||
    value > range.max
  ) {
    throw invalidArgument(
      `${flag} must be a whole number from ${range.min} to ${range.max}, got ${String(value)}`,
      `Pass a value between ${range.min} and ${range.max}.`,
    );
  }
  return value;
}

export function checkCursor(value: unknown): number {
  return checkInt(value, "--cursor / cursor", { min: 0, max: Number.MAX_SAFE_INTEGER }, 0);
}

/** A guest directory under /workspace; relative paths resolve from /workspace. */
export function checkGuestCwd(value: unknown, flag = "--cwd / cwd"): string {
  if (value === undefined || value === null) return WORKSPACE_GUEST_PATH;
  if (typeof value !== "string") throw invalidArgument(`${flag} must be a string`, "Pass a path.");
  const relative = workspaceRelative(value, flag);
  return relative === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${relative}`;
}

export function checkShellId(value: unknown): string {
  if (typeof value !== "string" || !SHELL_ID_PATTERN.test(value)) {
    throw new PyroError("SHELL_NOT_FOUND", `no shell with id "${String(value)}"`, {
      hint: "Shell ids look like shell-1; list them with `pyro workspace shell list WORKSPACE_ID`.",
    });
  }
  return value;
}

export function checkSignal(value: unknown, fallback: SignalName = "INT"): SignalName {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string" && (SIGNAL_NAMES as readonly string[]).includes(value)) {
    return value as SignalName;
  }
  throw invalidArgument(
    `--signal / signal_name must be one of ${SIGNAL_NAMES.join(", ")}, got ${String(value)}`,
    "Use INT (Ctrl-C, the default), TERM, HUP or KILL.",
  );
}

export function checkInput(value: unknown): string {
  if (typeof value !== "string") {
    throw invalidArgument("--input / input must be a string", "Pass the text to type.");
  }
  if (value.length > SHELL_SERVICE_LIMITS.inputChars) {
    throw invalidArgument(
      `--input / input is ${value.length} characters; at most ${SHELL_SERVICE_LIMITS.inputChars} are accepted per write`,
      "Split the input over several writes, or push a file with `pyro workspace sync push`.",
    );
  }
  return value;
}

export function checkServiceName(value: unknown): string {
  if (typeof value !== "string" || !SERVICE_NAME_PATTERN.test(value)) {
    throw invalidArgument(
      `invalid service name "${String(value)}"`,
      "Service names start with a letter or digit and use letters, digits, '.', '_' and '-' (max 64), e.g. web or db-1.",
    );
  }
  return value;
}

export function checkServiceCommand(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw invalidArgument(
      "the service command is empty",
      "Give the command after `--`, e.g. `pyro workspace service start WORKSPACE_ID web -- python3 -m http.server`.",
    );
  }
  if (value.length > SHELL_SERVICE_LIMITS.commandChars || value.includes("\0")) {
    throw invalidArgument(
      "the service command is too long or contains a NUL byte",
      `Keep it under ${SHELL_SERVICE_LIMITS.commandChars} characters; put long scripts in a file under /workspace.`,
    );
  }
  return value;
}

/** What a caller may pass as a readiness probe. */
export type ReadinessInput =
  | { type: "file"; path: string }
  | { type: "tcp"; address: string }
  | { type: "http"; url: string }
  | { type: "command"; command: string };

/** A checked probe, as recorded in the service record. */
export type Readiness =
  | { type: "file"; path: string }
  | { type: "tcp"; address: string; host: string; port: number }
  | { type: "http"; url: string; host: string; port: number; path: string }
  | { type: "command"; command: string };

const HOST_PATTERN = /^[A-Za-z0-9._:-]{1,253}$/;

function checkPort(text: string, what: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw invalidArgument(`${what} has an invalid port "${text}"`, "Ports go from 1 to 65535.");
  }
  return port;
}

/** Check a readiness probe; a file path resolves against the service cwd and must stay in /workspace. */
export function checkReadiness(value: unknown, cwd: string): Readiness | null {
  if (value === undefined || value === null) return null;
  const probe = value as Partial<Record<string, unknown>>;
  const hint =
    'Readiness is one of {"type":"file","path":...}, {"type":"tcp","address":"HOST:PORT"}, {"type":"http","url":"http://..."} or {"type":"command","command":...}.';
  if (typeof value !== "object" || typeof probe.type !== "string") {
    throw invalidArgument("readiness must be an object with a type", hint);
  }
  switch (probe.type) {
    case "file": {
      if (typeof probe.path !== "string" || probe.path === "") {
        throw invalidArgument("--ready-file / readiness.path must be a non-empty path", hint);
      }
      const absolute = path.posix.resolve(cwd, probe.path);
      const relative = workspaceRelative(absolute, `--ready-file "${probe.path}"`);
      return {
        type: "file",
        path: relative === "." ? WORKSPACE_GUEST_PATH : `${WORKSPACE_GUEST_PATH}/${relative}`,
      };
    }
    case "tcp": {
      const address = probe.address;
      const match = typeof address === "string" ? /^\[?([^\]]*)\]?:(\d+)$/.exec(address) : null;
      if (!match || !HOST_PATTERN.test(match[1] ?? "")) {
        throw invalidArgument(
          `--ready-tcp / readiness.address must be HOST:PORT, got "${String(address)}"`,
          "For example 127.0.0.1:8080 or localhost:5432.",
        );
      }
      const host = match[1] as string;
      const port = checkPort(match[2] as string, "--ready-tcp");
      return { type: "tcp", address: `${host}:${port}`, host, port };
    }
    case "http": {
      let url: URL;
      try {
        url = new URL(String(probe.url));
      } catch {
        throw invalidArgument(
          `--ready-http / readiness.url is not a URL: "${String(probe.url)}"`,
          "For example http://127.0.0.1:8080/health.",
        );
      }
      if (url.protocol !== "http:") {
        throw invalidArgument(
          `--ready-http supports http:// URLs only, got "${url.protocol}"`,
          "Probe the plain-HTTP port of the service, e.g. http://127.0.0.1:8080/.",
        );
      }
      const host = url.hostname.replace(/^\[|\]$/g, "");
      if (!HOST_PATTERN.test(host) || url.username || url.password) {
        throw invalidArgument(`--ready-http has an unusable host "${url.hostname}"`, hint);
      }
      const port = url.port ? checkPort(url.port, "--ready-http") : 80;
      return {
        type: "http",
        url: url.toString(),
        host,
        port,
        path: `${url.pathname || "/"}${url.search}`,
      };
    }
    case "command": {
      if (typeof probe.command !== "string" || probe.command.trim() === "") {
        throw invalidArgument("--ready-command / readiness.command must not be empty", hint);
      }
      if (probe.command.length > SHELL_SERVICE_LIMITS.commandChars) {
        throw invalidArgument("--ready-command is too long", "Put the check in a script.");
      }
      return { type: "command", command: probe.command };
    }
    default:
      throw invalidArgument(`unknown readiness type "${probe.type}"`, hint);
  }
}

/** The public form of a probe (what callers pass, normalized). */
export function readinessSummary(r: Readiness | null): ReadinessInput | null {
  if (!r) return null;
  switch (r.type) {
    case "file":
      return { type: "file", path: r.path };
    case "tcp":
      return { type: "tcp", address: r.address };
    case "http":
      return { type: "http", url: r.url };
    case "command":
      return { type: "command", command: r.command };
  }
}

export const checkCols = (v: unknown) =>
  checkInt(v, "--cols / cols", SHELL_SERVICE_LIMITS.cols, SHELL_DEFAULTS.cols);
export const checkRows = (v: unknown) =>
  checkInt(v, "--rows / rows", SHELL_SERVICE_LIMITS.rows, SHELL_DEFAULTS.rows);
export const checkMaxChars = (v: unknown) =>
  checkInt(v, "--max-chars / max_chars", SHELL_SERVICE_LIMITS.maxChars, SHELL_DEFAULTS.maxChars);
export const checkWaitForIdle = (v: unknown) =>
  checkInt(v, "--wait-for-idle-ms / wait_for_idle_ms", SHELL_SERVICE_LIMITS.waitForIdleMs, 0);
export const checkReadyTimeout = (v: unknown) =>
  checkInt(
    v,
    "--ready-timeout-seconds / ready_timeout_seconds",
    SHELL_SERVICE_LIMITS.readyTimeoutSeconds,
    SERVICE_DEFAULTS.readyTimeoutSeconds,
  );
export const checkReadyInterval = (v: unknown) =>
  checkInt(
    v,
    "--ready-interval-ms / ready_interval_ms",
    SHELL_SERVICE_LIMITS.readyIntervalMs,
    SERVICE_DEFAULTS.readyIntervalMs,
  );
/** `null` means all lines. */
export const checkTailLines = (v: unknown, all: boolean): number | null =>
  all
    ? null
    : checkInt(
        v,
        "--tail-lines / tail_lines",
        SHELL_SERVICE_LIMITS.tailLines,
        SERVICE_DEFAULTS.tailLines,
      );
