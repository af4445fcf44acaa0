import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { DEFAULTS } from "../contract.js";
import { checkEnvironmentName } from "../environments/local.js";
import { PyroError } from "./errors.js";
import { atomicWriteJson } from "./fs.js";
import { withLock } from "./lock.js";
import type { PyroPaths } from "./paths.js";
import { checkRange } from "./validate.js";

/**
 * The advanced one-shot VM lifecycle of the original (vm_create, vm_start, vm_exec, vm_stop,
 * vm_delete, vm_status, vm_network_info, vm_reap_expired). A VM is a small record under
 * `<state>/vms/<vm_id>.json`; starting it creates a backing workspace (empty /workspace, no seed)
 * with the workspace machinery: supervisor, TTL, crash detection. Stopping it deletes the backing
 * workspace (a one-shot VM keeps nothing across a stop); `exec` runs one command and then deletes
 * the VM, as the original does. The record's TTL bounds the VM's whole life: the backing
 * workspace is given what is left of it, and reapExpired removes expired records.
 */
export type VmState = "created" | "started" | "stopped";

export interface VmRecord {
  schema_version: 1;
  vm_id: string;
  environment: string;
  state: VmState;
  vcpu_count: number;
  mem_mib: number;
  ttl_seconds: number;
  network: boolean;
  allow_host_compat: boolean;
  created_at: string;
  expires_at: string;
  /** The backing workspace while started, else null. */
  workspace_id: string | null;
}

export interface CreateVmOptions {
  environment: string;
  vcpuCount?: number;
  memMib?: number;
  ttlSeconds?: number;
  network?: boolean;
  allowHostCompat?: boolean;
}

export const VM_ID_PATTERN = /^vm-[0-9a-f]{12}$/;
const vmsDir = (paths: PyroPaths) => path.join(paths.stateDir, "vms");
const vmFile = (paths: PyroPaths, id: string) => path.join(vmsDir(paths), `${id}.json`);
const vmLock = (paths: PyroPaths, id: string) => path.join(vmsDir(paths), ".locks", id);

export function withVmLock<T>(paths: PyroPaths, id: string, action: () => Promise<T>): Promise<T> {
  return withLock(vmLock(paths, id), action, { what: `the lock of VM ${id}`, timeoutMs: 120_000 });
}

function notFound(id: string): PyroError {
  return new PyroError("VM_NOT_FOUND", `no VM with id "${id}"`, {
    hint: "It may have expired, run its one command (exec deletes the VM) or been deleted; create one with vm_create (createVm).",
  });
}

export async function readVm(paths: PyroPaths, id: string): Promise<VmRecord> {
  if (typeof id !== "string" || !VM_ID_PATTERN.test(id)) throw notFound(String(id));
  const text = await fs.readFile(vmFile(paths, id), "utf8").catch(() => undefined);
  if (text === undefined) throw notFound(id);
  try {
    const record = JSON.parse(text) as VmRecord;
    if (record.vm_id !== id || record.schema_version !== 1) throw new Error("fields");
    return record;
  } catch {
    // An unreadable record is removed like an expired one (the reaper does it too).
    await fs.rm(vmFile(paths, id), { force: true });
    throw notFound(id);
  }
}

export async function writeVm(paths: PyroPaths, record: VmRecord): Promise<void> {
  await atomicWriteJson(vmFile(paths, record.vm_id), record);
}

export async function removeVmRecord(paths: PyroPaths, id: string): Promise<void> {
  await fs.rm(vmFile(paths, id), { force: true });
}

/** Check the options and write a `created` record; nothing boots until start. */
export async function createVmRecord(
  paths: PyroPaths,
  options: CreateVmOptions,
): Promise<VmRecord> {
  checkEnvironmentName(options.environment);
  const ttlSeconds = checkRange("ttlSeconds", options.ttlSeconds ?? DEFAULTS.ttlSeconds);
  const now = new Date();
  const record: VmRecord = {
    schema_version: 1,
    vm_id: `vm-${randomBytes(6).toString("hex")}`,
    environment: options.environment,
    state: "created",
    vcpu_count: checkRange("vcpuCount", options.vcpuCount ?? DEFAULTS.vcpuCount),
    mem_mib: checkRange("memMib", options.memMib ?? DEFAULTS.memMib),
    ttl_seconds: ttlSeconds,
    network: options.network ?? false,
    allow_host_compat: options.allowHostCompat ?? false,
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
    workspace_id: null,
  };
  await fs.mkdir(vmsDir(paths), { recursive: true });
  await writeVm(paths, record);
  return record;
}

/** Seconds left of the VM's TTL; an expired VM is an error (and is removed). */
export async function remainingTtl(paths: PyroPaths, record: VmRecord): Promise<number> {
  const left = Math.floor((Date.parse(record.expires_at) - Date.now()) / 1000);
  if (left < 1) {
    await removeVmRecord(paths, record.vm_id);
    throw new PyroError("VM_NOT_FOUND", `VM ${record.vm_id} has expired`, {
      hint: "Create a new one with vm_create (createVm); ttl_seconds sets how long it lives.",
    });
  }
  return left;
}

export async function vmIds(paths: PyroPaths): Promise<string[]> {
  const names = await fs.readdir(vmsDir(paths)).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith(".json"))
    .map((n) => n.slice(0, -".json".length))
    .filter((id) => VM_ID_PATTERN.test(id));
}
