import { DEFAULT_ENVIRONMENT } from "../environments/catalog.js";
import { defineOperation, managerOptions } from "./define.js";
import { commandString, fields } from "./fields.js";
import { runResult } from "./payloads.js";

export const runInVm = defineOperation({
  sdk: "runInVm",
  hooks: ["onStdout", "onStderr", "onBooted", "onPullProgress", "signal"],
  mcp: { tool: "vm_run", title: "Run one command in a fresh microVM" },
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
  },
  description:
    "Run one shell command in a fresh, disposable microVM and return its output and exit code; the VM is deleted afterwards. Use it for one-off commands; use a workspace when state must carry over between commands. Example: environment debian:12, command `git --version`.",
  hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  input: {
    environment: fields.environment,
    command: commandString("One shell command string, run with /bin/sh -c in the guest."),
    vcpu_count: fields.vcpuCount.optional(),
    mem_mib: fields.memMib.optional(),
    timeout_seconds: fields.timeoutSeconds.optional(),
    ttl_seconds: fields.ttlSeconds
      .describe("Upper bound on the VM's life in seconds (default 600).")
      .optional(),
    network: fields.network.optional(),
  },
  output: runResult,
  run: (manager, input, hooks) => manager.runInVm({ ...managerOptions(input), ...hooks }),
  exitCode: (result) => result.exit_code,
  print: (r) => ({
    stderr: `[run] environment=${r.environment} execution_mode=${r.execution_mode} accelerator=${r.accelerator} exit_code=${r.exit_code}${r.timed_out ? " timed_out=true" : ""} duration_ms=${r.duration_ms} boot_ms=${r.boot_ms}\n`,
  }),
});
