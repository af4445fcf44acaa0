import { LIMITS } from "../contract.js";
import { invalidArgument } from "./errors.js";

type Limit = keyof typeof LIMITS;

const FLAG: Record<Limit, string> = {
  vcpuCount: "--vcpu-count / vcpu_count",
  memMib: "--mem-mib / mem_mib",
  timeoutSeconds: "--timeout-seconds / timeout_seconds",
  ttlSeconds: "--ttl-seconds / ttl_seconds",
};

/** Check a numeric option against its documented range; the error names the flag and the range. */
export function checkRange(name: Limit, value: number): number {
  const { min, max } = LIMITS[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `${FLAG[name]} must be a whole number from ${min} to ${max}, got ${String(value)}`,
      `Pass a value between ${min} and ${max}.`,
    );
  }
  return value;
}

export function checkCommand(command: string): string {
  if (typeof command !== "string" || command.trim() === "") {
    throw invalidArgument(
      "the command is empty",
      "Give the command after `--`, e.g. `pyro run debian:12 -- git --version`.",
    );
  }
  return command;
}
