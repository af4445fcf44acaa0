import { z } from "zod";
import { NETWORK_POLICIES } from "../core/network/policy.js";

/**
 * Output schemas: the JSON payloads the manager returns, which the CLI prints with `--json`, the
 * SDK returns and MCP sends as structured content. Strict, so a field the manager adds without
 * adding it here is caught (MCP validates every result against these).
 */
const iso = z.string().describe("ISO 8601 time");
const nullableIso = iso.nullable();

export const executionMode = z.enum(["guest_agent", "host_compat"]);
const artifactType = z.enum(["file", "directory", "symlink"]);

export const environmentSummary = z
  .object({
    name: z.string(),
    version: z.string(),
    description: z.string(),
    default_packages: z.array(z.string()),
    distribution: z.string(),
    distribution_version: z.string(),
    installed: z.boolean(),
    source: z.enum(["catalog", "oci", "build"]),
    digest: z.string().nullable(),
    size_bytes: z.number().int().nullable(),
  })
  .strict();

export const environmentList = z
  .object({ catalog_version: z.string(), environments: z.array(environmentSummary) })
  .strict();

export const environmentInspect = environmentSummary
  .extend({
    install_dir: z.string(),
    kernel_image: z.string(),
    rootfs_image: z.string(),
    kernel_version: z.string().nullable(),
    built_at: nullableIso,
    problem: z.string().nullable(),
    provenance: z
      .union([
        z
          .object({
            kind: z.literal("oci"),
            reference: z.string(),
            canonical: z.string(),
            manifest_digest: z.string(),
            config_digest: z.string(),
            layers: z.array(z.string()),
          })
          .strict(),
        z
          .object({
            kind: z.literal("build"),
            base: z.string(),
            base_digest: z.string(),
            steps: z.array(z.string()),
            copies: z.array(
              z
                .object({ host_path: z.string(), guest_path: z.string(), sha256: z.string() })
                .strict(),
            ),
            network: z.boolean(),
            inputs_digest: z.string(),
          })
          .strict(),
      ])
      .nullable(),
    image_env: z.array(z.string()),
    working_dir: z.string().nullable(),
  })
  .strict();

export const environmentPull = environmentInspect.extend({ pulled: z.boolean() }).strict();

export const environmentBuild = environmentInspect.extend({ built: z.boolean() }).strict();

export const environmentPrune = z
  .object({
    removed: z.array(z.object({ name: z.string(), reason: z.string() }).strict()),
    count: z.number().int(),
  })
  .strict();

const accelerator = z
  .object({
    accelerator: z.enum(["kvm", "tcg"]),
    reason: z.string(),
    source: z.enum(["probe", "cache", "override", "no-kvm"]),
    kvm_device: z
      .object({ exists: z.boolean(), readable: z.boolean(), writable: z.boolean() })
      .strict(),
    probed_at: nullableIso,
  })
  .strict();

export const doctorReport = z
  .object({
    version: z.string(),
    platform: z.string(),
    node_version: z.string(),
    runtime: z.enum(["PASS", "FAIL"]),
    qemu: z.object({ path: z.string().nullable(), version: z.string().nullable() }).strict(),
    accelerator,
    host_tools: z.array(
      z.object({ tool: z.string(), package: z.string(), path: z.string().nullable() }).strict(),
    ),
    agent: z.object({ path: z.string(), present: z.boolean() }).strict(),
    environment_cache: z.string(),
    environments: z.array(
      z
        .object({
          name: z.string(),
          installed: z.boolean(),
          kernel_version: z.string().nullable(),
          problem: z.string().nullable(),
        })
        .strict(),
    ),
    boot_artifacts: z
      .object({
        environment: z.string(),
        kernel: z.boolean(),
        rootfs: z.boolean(),
        initramfs: z.boolean(),
      })
      .strict(),
    capabilities: z
      .object({ vm_boot: z.boolean(), guest_exec: z.boolean(), guest_network: z.boolean() })
      .strict(),
    warm: z
      .object({
        enabled: z.boolean(),
        boot_path: z.enum(["warm", "cold"]),
        saved_states: z.array(
          z
            .object({
              environment: z.string(),
              shape: z.string(),
              created_at: iso,
              state_bytes: z.number().int(),
            })
            .strict(),
        ),
      })
      .strict()
      .describe("Warm starts: on or off (PYRO_WARM=0), and the saved post-boot VM states on disk."),
    issues: z.array(z.object({ problem: z.string(), fix: z.string() }).strict()),
  })
  .strict();

/** Head and tail of each stream (max_output_bytes), whether bytes were left out, and totals. */
const streamOutput = {
  stdout: z.string(),
  stderr: z.string(),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  stdout_bytes: z.number().int(),
  stderr_bytes: z.number().int(),
};

export const runResult = z
  .object({
    environment: z.string(),
    command: z.string(),
    ...streamOutput,
    /** null while state is "running". */
    exit_code: z.number().int().nullable(),
    timed_out: z.boolean(),
    /** "running": returned after wait_seconds; vm_run_wait with run_id gives the end. */
    state: z.enum(["running", "finished"]),
    run_id: z.string().nullable(),
    signal: z.string().nullable(),
    duration_ms: z.number(),
    boot_ms: z.number(),
    execution_mode: executionMode,
    accelerator: z.string(),
    vcpu_count: z.number().int(),
    mem_mib: z.number().int(),
    network: z.boolean(),
  })
  .strict();

export const workspaceSeed = z
  .object({
    mode: z.enum(["empty", "directory", "tar_archive"]),
    seed_path: z.string().nullable(),
    destination: z.string(),
    entry_count: z.number().int(),
    bytes_written: z.number().int(),
  })
  .strict();

export const workspaceRecord = z
  .object({
    schema_version: z.number().int(),
    workspace_id: z.string(),
    environment: z.string(),
    state: z.enum(["starting", "started", "stopped", "crashed"]),
    created_at: iso,
    expires_at: iso,
    ttl_seconds: z.number().int(),
    vcpu_count: z.number().int(),
    mem_mib: z.number().int(),
    network: z.boolean(),
    network_policy: z
      .enum(NETWORK_POLICIES)
      .describe(
        "off (no interface), egress, or egress+published-ports (see workspace_network_info).",
      ),
    workspace_path: z.string(),
    workspace_seed: workspaceSeed,
    command_count: z.number().int(),
    reset_count: z.number().int(),
    last_reset_at: nullableIso,
    last_error: z.string().nullable(),
    execution_mode: executionMode,
    accelerator: z.string().nullable(),
    service_count: z.number().int(),
    running_service_count: z.number().int(),
    boot_path: z
      .enum(["warm", "cold"])
      .nullable()
      .optional()
      .describe("How the VM last came up: restored from a saved state (warm) or booted (cold)."),
    boot_note: z
      .string()
      .nullable()
      .optional()
      .describe("Why the last start was cold although warm starts are on."),
    saved_state_bytes: z
      .number()
      .int()
      .nullable()
      .optional()
      .describe("Size of the VM state `workspace stop` saved, while stopped."),
    name: z.string().nullable().optional().describe("The workspace's unique name, if it has one."),
    labels: z.record(z.string()).optional().describe("KEY=VALUE labels."),
    secrets: z
      .array(z.object({ name: z.string(), source_kind: z.enum(["literal", "file"]) }).strict())
      .optional()
      .describe("Names of the workspace's secrets (never their values)."),
  })
  .strict();

export const workspaceList = z
  .object({
    count: z.number().int(),
    workspaces: z.array(
      workspaceRecord.pick({
        workspace_id: true,
        environment: true,
        state: true,
        created_at: true,
        expires_at: true,
        name: true,
        labels: true,
      }),
    ),
    unreadable: z.array(z.object({ workspace_id: z.string(), problem: z.string() }).strict()),
  })
  .strict();

export const workspaceDeleted = z
  .object({ workspace_id: z.string(), deleted: z.literal(true) })
  .strict();

const journalEntry = {
  sequence: z.number().int(),
  command: z.string(),
  cwd: z.string(),
  /** running: still going (poll workspace_logs with the sequence); lost: its owner went away. */
  state: z.enum(["running", "finished", "lost"]),
  ...streamOutput,
  exit_code: z.number().int().nullable(),
  timed_out: z.boolean(),
  duration_ms: z.number(),
  started_at: iso,
  execution_mode: executionMode,
};

export const execResult = z.object({ workspace_id: z.string(), ...journalEntry }).strict();

export const workspaceLogs = z
  .object({
    workspace_id: z.string(),
    count: z.number().int(),
    omitted_count: z.number().int(),
    entries: z.array(z.object(journalEntry).strict()),
    page: z
      .object({
        stream: z.enum(["stdout", "stderr"]),
        offset: z.number().int(),
        next_offset: z.number().int(),
        bytes: z.number().int(),
        stored_bytes: z.number().int(),
        total_bytes: z.number().int(),
        eof: z.boolean(),
        data: z.string(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const syncResult = z
  .object({
    workspace_id: z.string(),
    workspace_sync: z
      .object({
        mode: z.enum(["directory", "tar_archive"]),
        source_path: z.string(),
        destination: z.string(),
        entry_count: z.number().int(),
        bytes_written: z.number().int(),
      })
      .strict(),
  })
  .strict();

export const exportResult = z
  .object({
    workspace_id: z.string(),
    workspace_path: z.string(),
    output_path: z.string(),
    artifact_type: artifactType,
    entry_count: z.number().int(),
    bytes_written: z.number().int(),
    execution_mode: executionMode,
  })
  .strict();

export const diffResult = z
  .object({
    workspace_id: z.string(),
    changed: z.boolean(),
    summary: z
      .object({
        total: z.number().int(),
        added: z.number().int(),
        modified: z.number().int(),
        deleted: z.number().int(),
        type_changed: z.number().int(),
        text_patched: z.number().int(),
        non_text: z.number().int(),
      })
      .strict(),
    entries: z.array(
      z
        .object({
          path: z.string(),
          status: z.enum(["added", "modified", "deleted", "type_changed"]),
          artifact_type: artifactType,
          text_patch: z.boolean(),
        })
        .strict(),
    ),
    patch: z.string(),
  })
  .strict();

export const snapshotInfo = z
  .object({
    snapshot_name: z.string(),
    kind: z.enum(["baseline", "named"]),
    created_at: iso,
    entry_count: z.number().int().nullable(),
    bytes_written: z.number().int().nullable(),
    snapshot_kind: z
      .enum(["workspace", "full"])
      .describe("workspace: /workspace only; full: memory, processes, shells, services and disks."),
    disk_bytes: z
      .number()
      .int()
      .nullable()
      .describe(
        "Host disk the snapshot's own files take (full snapshots); null for /workspace-only ones.",
      ),
  })
  .strict();

export const snapshotResult = z
  .object({ workspace_id: z.string(), snapshot: snapshotInfo })
  .strict();

export const snapshotList = z
  .object({ workspace_id: z.string(), count: z.number().int(), snapshots: z.array(snapshotInfo) })
  .strict();

const shellState = z.enum(["running", "stopped"]);

const shellFields = {
  workspace_id: z.string(),
  shell_id: z.string(),
  cwd: z.string(),
  cols: z.number().int(),
  rows: z.number().int(),
  state: shellState,
  pid: z.number().int().nullable(),
  started_at: iso,
  ended_at: nullableIso,
  exit_code: z.number().int().nullable(),
  execution_mode: executionMode,
};

export const shellRecord = z.object(shellFields).strict();
export const shellWritten = z.object({ ...shellFields, input_chars: z.number().int() }).strict();
export const shellSignalled = z
  .object({ ...shellFields, signal: z.enum(["HUP", "INT", "TERM", "KILL"]) })
  .strict();
export const shellClosed = z.object({ ...shellFields, closed: z.literal(true) }).strict();

export const shellRead = z
  .object({
    workspace_id: z.string(),
    shell_id: z.string(),
    state: shellState,
    exit_code: z.number().int().nullable(),
    output: z.string(),
    cursor: z.number().int(),
    next_cursor: z.number().int(),
    end_cursor: z.number().int(),
    truncated: z.boolean(),
    truncated_chars: z.number().int(),
    plain: z.boolean(),
  })
  .strict();

export const shellList = z
  .object({ workspace_id: z.string(), count: z.number().int(), shells: z.array(shellRecord) })
  .strict();

export const readinessInput = z.discriminatedUnion("type", [
  z.object({ type: z.literal("file"), path: z.string() }).strict(),
  z.object({ type: z.literal("tcp"), address: z.string() }).strict(),
  z.object({ type: z.literal("http"), url: z.string() }).strict(),
  z.object({ type: z.literal("command"), command: z.string() }).strict(),
]);

export const publishedPort = z
  .object({
    host: z.literal("127.0.0.1"),
    host_port: z.number().int(),
    guest_port: z.number().int(),
    protocol: z.literal("tcp"),
  })
  .strict();

const serviceState = z.enum(["starting", "running", "exited", "stopped", "failed"]);

export const serviceRecord = z
  .object({
    workspace_id: z.string(),
    service_name: z.string(),
    command: z.string(),
    cwd: z.string(),
    state: serviceState,
    started_at: iso,
    ready_at: nullableIso,
    ended_at: nullableIso,
    exit_code: z.number().int().nullable(),
    pid: z.number().int().nullable(),
    readiness: readinessInput.nullable(),
    ready_timeout_seconds: z.number().int(),
    ready_interval_ms: z.number().int(),
    stop_reason: z.enum(["sigterm", "sigkill"]).nullable(),
    failure_reason: z.string().nullable(),
    execution_mode: executionMode,
    published_ports: z
      .array(publishedPort)
      .describe("Where the service is reachable on the host; emptied when it stops or fails."),
  })
  .strict();

export const serviceList = z
  .object({
    workspace_id: z.string(),
    count: z.number().int(),
    running_count: z.number().int(),
    services: z.array(serviceRecord),
  })
  .strict();

export const serviceLogs = z
  .object({
    workspace_id: z.string(),
    service_name: z.string(),
    state: serviceState,
    stdout: z.string(),
    stderr: z.string(),
    tail_lines: z.number().int().nullable(),
    stdout_truncated: z.boolean(),
    stderr_truncated: z.boolean(),
  })
  .strict();

export const doctorWithHostCompat = doctorReport
  .extend({
    host_compat: z
      .object({
        guest_boot: z.boolean(),
        reason: z.string().nullable(),
        isolation: z.literal("none"),
      })
      .strict(),
  })
  .strict();

export const resetResult = workspaceRecord
  .extend({ restored_snapshot: z.string().describe("The snapshot /workspace was restored from.") })
  .strict();

export const vmStatus = z
  .object({
    vm_id: z.string(),
    environment: z.string(),
    state: z.enum(["created", "started", "stopped", "crashed"]),
    vcpu_count: z.number().int(),
    mem_mib: z.number().int(),
    ttl_seconds: z.number().int(),
    network: z.boolean(),
    allow_host_compat: z.boolean(),
    created_at: iso,
    expires_at: iso,
    workspace_id: z.string().nullable(),
    execution_mode: executionMode,
    accelerator: z.string().nullable(),
    last_error: z.string().nullable(),
  })
  .strict();

export const vmExecResult = z
  .object({ vm_id: z.string(), ...journalEntry, deleted: z.literal(true) })
  .strict();

export const vmDeleted = z.object({ vm_id: z.string(), deleted: z.literal(true) }).strict();

export const vmNetwork = z
  .object({
    vm_id: z.string(),
    network: z.boolean(),
    mode: z.enum(["user", "none", "host"]),
    guest_ip: z.string().nullable(),
    gateway: z.string().nullable(),
    dns: z.string().nullable(),
  })
  .strict();

export const reapResult = z
  .object({ count: z.number().int(), vms: z.array(z.string()), workspaces: z.array(z.string()) })
  .strict();

export const forkResult = workspaceRecord
  .extend({
    source_workspace_id: z.string().describe("The workspace this one was forked from."),
    source_snapshot: z
      .string()
      .nullable()
      .describe("The full snapshot it was forked from; null when forked from the live workspace."),
  })
  .strict();
