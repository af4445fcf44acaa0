import fs from "node:fs/promises";
import { DEFAULTS } from "../../contract.js";
import { checkEnvironmentName } from "../../environments/local.js";
import { PyroError } from "../errors.js";
import { checkRange } from "../validate.js";
import { atomicWriteJson } from "../fs.js";
import { withLock, type LockHolder, type LockOptions } from "../lock.js";
import type { PyroPaths } from "../paths.js";
import { WORKSPACE_GUEST_PATH, WORKSPACE_ID_PATTERN, workspaceFiles } from "./layout.js";
import {
  hasNetwork,
  recordedPolicy,
  resolveNetworkPolicy,
  type NetworkPolicy,
} from "../network/policy.js";

/** The workspace record, `workspace.json`. Validated on every read; written atomically. */
export const RECORD_SCHEMA_VERSION = 1;

export type WorkspaceState = "starting" | "started" | "stopped" | "crashed";
export type SeedMode = "empty" | "directory" | "tar_archive";
/** Where commands run: in a guest through the agent, or on the host (host_compat, no isolation). */
export type ExecutionMode = "guest_agent" | "host_compat";

export interface WorkspaceSeed {
  mode: SeedMode;
  seed_path: string | null;
  destination: string;
  entry_count: number;
  bytes_written: number;
}

export interface WorkspaceRecord {
  schema_version: number;
  workspace_id: string;
  environment: string;
  state: WorkspaceState;
  created_at: string;
  expires_at: string;
  ttl_seconds: number;
  vcpu_count: number;
  mem_mib: number;
  network: boolean;
  workspace_path: string;
  workspace_seed: WorkspaceSeed;
  command_count: number;
  reset_count: number;
  last_reset_at: string | null;
  last_error: string | null;
  execution_mode: ExecutionMode;
  accelerator: string | null;
  service_count: number;
  running_service_count: number;
  /** How the VM last came up: restored from a saved state ("warm") or booted ("cold"). */
  boot_path?: "warm" | "cold" | null;
  /** Why the last start was cold although warm starts are on; null otherwise. */
  boot_note?: string | null;
  /** Size of the VM state `workspace stop` saved (checked by `workspace start`). */
  saved_state_bytes?: number | null;
  /** What the guest may reach (read as `egress`/`off` from records that have only `network`). */
  network_policy: NetworkPolicy;
  /** Unique human name (`--name`); every operation taking an id takes it too. */
  name?: string | null;
  /** Free-form KEY=VALUE labels (`--label`), filtered on by `workspace list`. */
  labels?: Record<string, string>;
  /** Names and sources of the workspace's secrets; never their values. */
  secrets?: SecretMetadata[];
}

/** What the record keeps of a secret: its name and where it came from, never its value. */
export interface SecretMetadata {
  name: string;
  source_kind: "literal" | "file";
}

/** What a workspace is created with, checked (environment known, ranges) and defaults applied. */
export interface WorkspaceSpec {
  environment: string;
  vcpuCount: number;
  memMib: number;
  ttlSeconds: number;
  network: boolean;
  networkPolicy: NetworkPolicy;
}

export function checkWorkspaceSpec(options: {
  environment: string;
  vcpuCount?: number;
  memMib?: number;
  ttlSeconds?: number;
  network?: boolean;
  networkPolicy?: NetworkPolicy;
}): WorkspaceSpec {
  checkEnvironmentName(options.environment);
  const networkPolicy = resolveNetworkPolicy(options);
  return {
    environment: options.environment,
    vcpuCount: checkRange("vcpuCount", options.vcpuCount ?? DEFAULTS.vcpuCount),
    memMib: checkRange("memMib", options.memMib ?? DEFAULTS.memMib),
    ttlSeconds: checkRange("ttlSeconds", options.ttlSeconds ?? DEFAULTS.ttlSeconds),
    network: hasNetwork(networkPolicy),
    networkPolicy,
  };
}

/** A new workspace's record: counters at zero, expiry from the TTL. Guest and host_compat alike. */
export function newWorkspaceRecord(
  workspaceId: string,
  spec: WorkspaceSpec,
  seed: WorkspaceSeed,
  at: { now: Date; state: WorkspaceState; executionMode: ExecutionMode },
): WorkspaceRecord {
  return {
    schema_version: RECORD_SCHEMA_VERSION,
    workspace_id: workspaceId,
    environment: spec.environment,
    state: at.state,
    created_at: at.now.toISOString(),
    expires_at: new Date(at.now.getTime() + spec.ttlSeconds * 1000).toISOString(),
    ttl_seconds: spec.ttlSeconds,
    vcpu_count: spec.vcpuCount,
    mem_mib: spec.memMib,
    network: spec.network,
    network_policy: spec.networkPolicy,
    workspace_path: WORKSPACE_GUEST_PATH,
    workspace_seed: seed,
    command_count: 0,
    reset_count: 0,
    last_reset_at: null,
    last_error: null,
    execution_mode: at.executionMode,
    accelerator: null,
    service_count: 0,
    running_service_count: 0,
  };
}

export function checkWorkspaceId(workspaceId: string): string {
  if (typeof workspaceId !== "string" || !WORKSPACE_ID_PATTERN.test(workspaceId)) {
    throw new PyroError("WORKSPACE_NOT_FOUND", `no workspace with id "${String(workspaceId)}"`, {
      hint: "Workspace ids are 12 hex digits; list them with `pyro workspace list`.",
    });
  }
  return workspaceId;
}

export async function readRecord(paths: PyroPaths, workspaceId: string): Promise<WorkspaceRecord> {
  checkWorkspaceId(workspaceId);
  const file = workspaceFiles(paths, workspaceId).record;
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new PyroError("WORKSPACE_NOT_FOUND", `no workspace with id "${workspaceId}"`, {
        hint: "It may have expired or been deleted; list workspaces with `pyro workspace list`.",
      });
    }
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt(workspaceId, "workspace.json is not valid JSON");
  }
  const record = value as Partial<WorkspaceRecord>;
  if (
    record.schema_version !== RECORD_SCHEMA_VERSION ||
    record.workspace_id !== workspaceId ||
    typeof record.environment !== "string" ||
    typeof record.state !== "string" ||
    typeof record.command_count !== "number" ||
    typeof record.workspace_seed !== "object"
  ) {
    throw corrupt(workspaceId, "workspace.json does not have the expected fields");
  }
  return {
    ...record,
    workspace_path: WORKSPACE_GUEST_PATH,
    network_policy: recordedPolicy(record as Pick<WorkspaceRecord, "network">),
    name: record.name ?? null,
    labels: record.labels ?? {},
    secrets: record.secrets ?? [],
  } as WorkspaceRecord;
}

function corrupt(workspaceId: string, why: string): PyroError {
  return new PyroError("WORKSPACE_CORRUPT", `workspace ${workspaceId} is unreadable: ${why}`, {
    hint: `Delete it with \`pyro workspace delete ${workspaceId}\` and create a new one.`,
  });
}

export async function writeRecord(paths: PyroPaths, record: WorkspaceRecord): Promise<void> {
  await atomicWriteJson(workspaceFiles(paths, record.workspace_id).record, record);
}

/** Read-modify-write of the record under the workspace lock. */
export async function updateRecord(
  paths: PyroPaths,
  workspaceId: string,
  change: (record: WorkspaceRecord) => WorkspaceRecord | void,
): Promise<WorkspaceRecord> {
  return withWorkspaceLock(paths, workspaceId, async () => {
    const record = await readRecord(paths, workspaceId);
    const next = change(record) ?? record;
    await writeRecord(paths, next);
    return next;
  });
}

/** Operations that own the workspace's whole life; they serialize among themselves. */
export const LIFECYCLE_OPERATIONS: readonly string[] = ["create", "reset", "delete"];

/** Default deadline of a workspace lock holder; past it a waiter takes the lock over. */
export const WORKSPACE_LOCK_HOLD_MS = 5 * 60_000;

/**
 * Run `action` holding the workspace lock. The lock records its holder and a deadline (holdMs,
 * default five minutes); a waiter takes over a lock whose holder died or is past its deadline.
 */
export function withWorkspaceLock<T>(
  paths: PyroPaths,
  workspaceId: string,
  action: (holder: LockHolder) => Promise<T>,
  options: Omit<LockOptions, "what"> = {},
): Promise<T> {
  return withLock(workspaceFiles(paths, workspaceId).lock, action, {
    timeoutMs: 120_000,
    holdMs: WORKSPACE_LOCK_HOLD_MS,
    operation: "update",
    ...options,
    what: `the lock of workspace ${workspaceId}`,
  });
}
