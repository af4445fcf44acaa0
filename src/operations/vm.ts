import { DEFAULT_ENVIRONMENT } from "../environments/catalog.js";
import { defineOperation, managerOptions, HINTS } from "./define.js";
import { commandString, fields, guestSpec } from "./fields.js";
import { lines } from "./human.js";
import {
  reapResult,
  runResult,
  vmDeleted,
  vmExecResult,
  vmNetwork,
  vmStatus,
  type executionMode,
} from "./payloads.js";
import { z } from "zod";
import { outputFields } from "./output-fields.js";

export const runInVm = defineOperation({
  sdk: "runInVm",
  hooks: ["onStdout", "onStderr", "onBooted", "onPullProgress", "signal", "onCommandProgress"],
  mcp: { tool: "vm_run", title: "Run one command in a fresh microVM", profiles: ["vm-run"] },
  cli: {
    path: ["run"],
    args: ["environment"],
    tail: "command",
    examples: [
      `pyro run ${DEFAULT_ENVIRONMENT} -- git --version`,
      `pyro run ${DEFAULT_ENVIRONMENT} --timeout-seconds 5 -- sh -c 'echo hi; exit 7'`,
    ],
    notes:
      "The words after `--` are joined into one shell command. Exit status is the command's;\na command killed by --timeout-seconds exits 124.",
    // The VM lives as long as the calling process: a CLI that returned early would end it.
    omit: ["wait_seconds"],
  },
  description:
    "Run one shell command in a fresh, disposable microVM and return its output and exit code; the VM is deleted afterwards. On a host that cannot boot a guest it is refused unless allow_host_compat is set (then it runs on the host with no isolation: execution_mode host_compat). Use it for one-off commands; use a workspace when state must carry over between commands. Example: environment debian:12, command `git --version`.",
  hints: HINTS.add,
  input: {
    environment: fields.environment,
    command: commandString("One shell command string, run with /bin/sh -c in the guest."),
    vcpu_count: fields.vcpuCount.optional(),
    mem_mib: fields.memMib.optional(),
    timeout_seconds: fields.timeoutSeconds.optional(),
    max_output_bytes: outputFields.maxOutputBytes.optional(),
    wait_seconds: outputFields.runWaitSeconds.optional(),
    ttl_seconds: fields.ttlSeconds
      .describe("Upper bound on the VM's life in seconds (default 600).")
      .optional(),
    network: fields.network.optional(),
    network_policy: fields.networkPolicy.optional(),
    allow_host_compat: fields.allowHostCompat.optional(),
  },
  output: runResult,
  run: (manager, input, hooks) => manager.runInVm({ ...managerOptions(input), ...hooks }),
  exitCode: (result) => result.exit_code ?? 1,
  print: (r) => ({
    stderr: `${hostCompatWarning(r.execution_mode)}${lines(
      `[run] environment=${r.environment} execution_mode=${r.execution_mode} accelerator=${r.accelerator} exit_code=${r.exit_code}${r.timed_out ? " timed_out=true" : ""} duration_ms=${r.duration_ms} boot_ms=${r.boot_ms}`,
    )}`,
  }),
});

/** Printed before every human summary of a result that ran on the host. */
export const hostCompatWarning = (mode: z.output<typeof executionMode>): string =>
  mode === "host_compat"
    ? "WARNING: execution_mode=host_compat: this ran on the host itself, with NO isolation.\n"
    : "";

// The advanced one-shot VM lifecycle: SDK and MCP only, as in the original (no CLI commands).
const byVm = {
  vm_id: z.string().describe("VM id (vm- and 12 hex digits), as returned by vm_create."),
};
const vmHint = "Advanced: prefer vm_run for one command, a workspace for several.";
const noPrint = (result: object) => ({ stdout: `${JSON.stringify(result, null, 2)}\n` });

export const createVm = defineOperation({
  sdk: "createVm",
  mcp: { tool: "vm_create", title: "Create a VM (advanced lifecycle)" },
  cli: null,
  description: `Create a one-shot VM record with its resources and TTL; nothing boots until vm_start (or vm_exec). ${vmHint}`,
  hints: HINTS.add,
  input: guestSpec,
  output: vmStatus,
  run: (manager, input) => manager.createVm(managerOptions(input)),
  print: noPrint,
});

export const startVm = defineOperation({
  sdk: "startVm",
  sdkArgs: ["vm_id"],
  mcp: { tool: "vm_start", title: "Start a VM" },
  cli: null,
  description: `Boot a created or stopped VM (a fresh guest each time) and wait until it answers. ${vmHint}`,
  hints: HINTS.update,
  input: byVm,
  output: vmStatus,
  run: (manager, input) => manager.startVm(input.vm_id),
  print: noPrint,
});

export const execVm = defineOperation({
  sdk: "execVm",
  sdkArgs: ["vm_id"],
  hooks: ["onStdout", "onStderr", "signal"],
  mcp: { tool: "vm_exec", title: "Run one command in a VM, then delete it" },
  cli: null,
  description: `Run one shell command in the VM (starting it if needed) and return its output; the VM is deleted afterwards, whatever happened, as in the original. ${vmHint}`,
  hints: HINTS.destroy,
  input: {
    ...byVm,
    command: commandString("One shell command string, run with /bin/sh -c."),
    timeout_seconds: fields.timeoutSeconds.optional(),
    max_output_bytes: outputFields.maxOutputBytes.optional(),
  },
  output: vmExecResult,
  run: (manager, input, hooks) =>
    manager.execVm(input.vm_id, { ...managerOptions(input, ["vm_id"]), ...hooks }),
  print: noPrint,
});

export const stopVm = defineOperation({
  sdk: "stopVm",
  sdkArgs: ["vm_id"],
  mcp: { tool: "vm_stop", title: "Stop a VM" },
  cli: null,
  description: `Stop a VM's guest; the record stays (state stopped) and vm_start boots a fresh guest. Nothing in the guest survives a stop. ${vmHint}`,
  hints: HINTS.destroyIdempotent,
  input: byVm,
  output: vmStatus,
  run: (manager, input) => manager.stopVm(input.vm_id),
  print: noPrint,
});

export const deleteVm = defineOperation({
  sdk: "deleteVm",
  sdkArgs: ["vm_id"],
  mcp: { tool: "vm_delete", title: "Delete a VM" },
  cli: null,
  description: `Stop a VM if it runs and remove its record. ${vmHint}`,
  hints: HINTS.destroy,
  input: byVm,
  output: vmDeleted,
  run: (manager, input) => manager.deleteVm(input.vm_id),
  print: noPrint,
});

export const statusVm = defineOperation({
  sdk: "statusVm",
  sdkArgs: ["vm_id"],
  mcp: { tool: "vm_status", title: "VM status" },
  cli: null,
  description: `Return a VM's record: state (created, started, stopped, crashed), resources, TTL, execution mode. ${vmHint}`,
  hints: HINTS.read,
  input: byVm,
  output: vmStatus,
  run: (manager, input) => manager.statusVm(input.vm_id),
  print: noPrint,
});

export const networkInfoVm = defineOperation({
  sdk: "networkInfoVm",
  sdkArgs: ["vm_id"],
  mcp: { tool: "vm_network_info", title: "VM network details" },
  cli: null,
  description: `Return a VM's network: off, QEMU user-mode (outbound only; guest 10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3) or the host's own (host_compat). ${vmHint}`,
  hints: HINTS.read,
  input: byVm,
  output: vmNetwork,
  run: (manager, input) => manager.networkInfoVm(input.vm_id),
  print: noPrint,
});

export const reapExpired = defineOperation({
  sdk: "reapExpired",
  mcp: { tool: "vm_reap_expired", title: "Remove expired VMs and workspaces" },
  cli: null,
  description:
    "Remove every VM and workspace past its TTL (pyro also does this on create and list). Returns what was removed.",
  hints: HINTS.destroyIdempotent,
  input: {},
  output: reapResult,
  run: (manager) => manager.reapExpired(),
  print: noPrint,
});

export const waitRun = defineOperation({
  sdk: "waitRun",
  sdkArgs: ["run_id"],
  mcp: { tool: "vm_run_wait", title: "Wait for a vm_run that is still running" },
  cli: null,
  description:
    'Wait for a vm_run that returned state "running" (it outlived its wait_seconds) and return its result once it ends, or after wait_seconds its state and output so far; call again while state is "running". Runs are tracked by the server that started them and forgotten 10 minutes after they end.',
  hints: HINTS.read,
  input: {
    run_id: z.string().describe('The run_id from a vm_run result with state "running".'),
    wait_seconds: outputFields.logsWaitSeconds
      .describe("Wait up to this many seconds for the run to end (default 0: answer at once).")
      .optional(),
  },
  output: runResult,
  run: (manager, input) => manager.waitRun(input.run_id, managerOptions(input, ["run_id"])),
  print: noPrint,
});
