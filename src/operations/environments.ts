import { readFileSync } from "node:fs";
import { z } from "zod";
import type { EnvironmentInspectPayload } from "../core/environments.js";
import { DEFAULT_ENVIRONMENT } from "../environments/catalog.js";
import { defineOperation, type HumanOutput, HINTS } from "./define.js";
import { fields } from "./fields.js";
import { lines } from "./human.js";
import {
  doctorWithHostCompat,
  environmentInspect,
  environmentList,
  environmentPrune,
  environmentPull,
  environmentBuild,
} from "./payloads.js";
import { PyroError } from "../core/errors.js";

const yesNo = (value: boolean): string => (value ? "yes" : "no");

export const doctor = defineOperation({
  sdk: "doctor",
  mcp: null,
  cli: { path: ["doctor"], examples: ["pyro doctor"] },
  description:
    "Check this host: QEMU, accelerator (KVM or TCG), agent, environments and capabilities, with the command that fixes each missing piece. Run it first on a new host.",
  hints: HINTS.read,
  input: {},
  output: doctorWithHostCompat,
  run: (manager) => manager.doctor(),
  exitCode: (report) => (report.runtime === "PASS" ? 0 : 1),
  print: printDoctor,
});

function printDoctor(r: z.output<typeof doctorWithHostCompat>): HumanOutput {
  const out = [
    `Platform: ${r.platform}`,
    `Runtime: ${r.runtime}`,
    `QEMU: ${r.qemu.path ? `${r.qemu.version ?? "unknown version"} (${r.qemu.path})` : "not installed"}`,
    `Accelerator: ${r.accelerator.accelerator} (${r.accelerator.reason})`,
    `KVM: exists=${yesNo(r.accelerator.kvm_device.exists)} readable=${yesNo(r.accelerator.kvm_device.readable)} writable=${yesNo(r.accelerator.kvm_device.writable)}`,
    `Agent: ${r.agent.present ? "present" : "missing"} (${r.agent.path})`,
    `Boot artifacts (${r.boot_artifacts.environment}): kernel=${yesNo(r.boot_artifacts.kernel)} rootfs=${yesNo(r.boot_artifacts.rootfs)} initramfs=${yesNo(r.boot_artifacts.initramfs)}`,
    `Environment cache: ${r.environment_cache}`,
    ...r.environments.map(
      (e) =>
        `  ${e.name} [${e.installed ? "installed" : "not installed"}]${e.kernel_version ? ` kernel ${e.kernel_version}` : ""}${e.problem ? ` problem: ${e.problem}` : ""}`,
    ),
    `Capabilities: vm_boot=${yesNo(r.capabilities.vm_boot)} guest_exec=${yesNo(r.capabilities.guest_exec)} guest_network=${yesNo(r.capabilities.guest_network)}`,
    `Boot path: ${r.warm.boot_path}${r.warm.enabled ? ` (warm starts on; ${r.warm.saved_states.length} saved state(s))` : " (PYRO_WARM=0)"}`,
    r.host_compat.guest_boot
      ? "Host compat: not needed (guests boot here)"
      : `Host compat: guests cannot boot here (${r.host_compat.reason ?? "unknown"}); --allow-host-compat runs commands on the host with NO isolation`,
  ];
  if (r.issues.length > 0) {
    out.push("To fix:");
    for (const issue of r.issues) out.push(`  - ${issue.problem}: run \`${issue.fix}\``);
  }
  return { stdout: lines(...out) };
}

export const listEnvironments = defineOperation({
  sdk: "listEnvironments",
  mcp: { tool: "vm_list_environments", title: "List environments" },
  cli: { path: ["env", "list"], examples: ["pyro env list"] },
  description:
    "List the environments pyro can boot (debian:12, debian:12-base, debian:12-build) and whether each is installed. Use it to pick the environment for run or workspace create.",
  hints: HINTS.read,
  input: {},
  output: environmentList,
  run: (manager) => manager.listEnvironments(),
  print: (payload) => {
    const out = [`Catalog version: ${payload.catalog_version}`];
    for (const e of payload.environments) {
      const extra = [
        e.source,
        ...(e.digest ? [e.digest.slice(0, 19)] : []),
        ...(e.size_bytes !== null ? [`${Math.round(e.size_bytes / 1048576)} MiB`] : []),
      ].join(", ");
      out.push(
        `${e.name} [${e.installed ? "installed" : "not installed"}] ${e.description} (${extra})`,
      );
    }
    return { stdout: lines(...out) };
  },
});

const environmentName = { environment: fields.environment };

const pullInput = {
  environment: z
    .string()
    .min(1)
    .max(512)
    .describe(
      "A catalog name (debian:12) or an OCI image reference (registry/repository:tag or @sha256:...; no registry means Docker Hub).",
    ),
  username: z.string().min(1).max(256).optional().describe("Registry user name."),
  // Not a CLI flag (a password in argv is visible to every user): the CLI reads --password-stdin.
  password: z
    .string()
    .min(1)
    .max(4096)
    .refine((value) => !/[\r\n\0]/.test(value), "must be one line")
    .optional()
    .describe("Registry password or token (CLI: --password-stdin)."),
  insecure: z
    .boolean()
    .optional()
    .describe("Allow plain HTTP to a registry that is not on this host (loopback always may)."),
};

export const pullEnvironment = defineOperation({
  sdk: "pullEnvironment",
  sdkArgs: ["environment"],
  hooks: ["onProgress"],
  mcp: { tool: "vm_pull_environment", title: "Pull environment" },
  cli: {
    path: ["env", "pull"],
    args: ["environment"],
    extra: {
      options: [
        {
          flag: "--password-stdin",
          description: "read the registry password (or token) from stdin",
          field: "password",
        },
      ],
      fold: (flags) => {
        if (!flags.passwordStdin) return {};
        return { password: readFileSync(0, "utf8").replace(/\r?\n$/, "") };
      },
    },
    examples: [
      `pyro env pull ${DEFAULT_ENVIRONMENT}`,
      "pyro env pull alpine:3.20",
      "pyro env pull 127.0.0.1:5000/tools:1",
      'echo "$TOKEN" | pyro env pull ghcr.io/acme/dev:2 --username acme --password-stdin',
    ],
    notes:
      "Images: pulled with skopeo (every digest verified), unpacked with umoci in an unprivileged user namespace, booted with pyro's kernel and agent. The image's Env and WorkingDir become command defaults. Credentials come from ~/.docker/config.json unless --username/--password-stdin are given; plain HTTP only for loopback registries or with --insecure.",
  },
  description:
    "Install an environment: a catalog one built from Debian packages, or any OCI image from a registry (idempotent; repairs a broken install). run and workspace create pull catalog environments on first use; images must be pulled first.",
  hints: HINTS.update,
  input: pullInput,
  output: environmentPull,
  run: (manager, input, hooks) =>
    manager.pullEnvironment(input.environment, hooks.onProgress, {
      ...(input.username !== undefined ? { username: input.username } : {}),
      ...(input.password !== undefined ? { password: input.password } : {}),
      ...(input.insecure !== undefined ? { insecure: input.insecure } : {}),
    }),
  print: (payload) => ({
    stdout:
      printInspect(payload) +
      (payload.pulled ? "Pulled: yes\n" : "Pulled: no (already installed)\n"),
  }),
});

export const inspectEnvironment = defineOperation({
  sdk: "inspectEnvironment",
  sdkArgs: ["environment"],
  mcp: { tool: "vm_inspect_environment", title: "Inspect environment" },
  cli: {
    path: ["env", "inspect"],
    args: ["environment"],
    examples: [`pyro env inspect ${DEFAULT_ENVIRONMENT}`],
  },
  description:
    "Show one environment's install details: source (catalog, OCI image or derived build) with its digest and provenance, size, kernel, paths, image Env and WorkingDir, and any problem with the install.",
  hints: HINTS.read,
  input: environmentName,
  output: environmentInspect,
  run: (manager, input) => manager.inspectEnvironment(input.environment),
  print: (payload) => ({ stdout: printInspect(payload) }),
});

export const pruneEnvironments = defineOperation({
  sdk: "pruneEnvironments",
  mcp: null,
  cli: { path: ["env", "prune"], examples: ["pyro env prune"] },
  description:
    "Remove broken or stale environment installs and leftovers of interrupted pulls, to free disk space.",
  hints: HINTS.destroyIdempotent,
  input: {},
  output: environmentPrune,
  run: (manager) => manager.pruneEnvironments(),
  print: (payload) => {
    let stdout = payload.count === 0 ? "Nothing to prune.\n" : "";
    for (const r of payload.removed) stdout += lines(`Removed ${r.name}: ${r.reason}`);
    return { stdout };
  },
});

function printInspect(e: EnvironmentInspectPayload): string {
  const out = [
    `Environment: ${e.name}`,
    `Version: ${e.version}`,
    `Description: ${e.description}`,
    `Distribution: ${e.distribution} ${e.distribution_version}`.trimEnd(),
    `Default packages: ${e.default_packages.join(", ") || "(none listed)"}`,
    `Installed: ${e.installed ? "yes" : "no"}`,
    `Install dir: ${e.install_dir}`,
  ];
  if (e.kernel_version) out.push(`Kernel: ${e.kernel_version}`);
  if (e.built_at) out.push(`Built at: ${e.built_at}`);
  out.push(`Source: ${e.source}`);
  if (e.digest) out.push(`Digest: ${e.digest}`);
  if (e.size_bytes !== null) out.push(`Size: ${e.size_bytes} bytes`);
  const p = e.provenance;
  if (p?.kind === "oci") out.push(`Image: ${p.canonical}`, `Layers: ${p.layers.length}`);
  if (p?.kind === "build") {
    out.push(`Base: ${p.base} (${p.base_digest})`, `Network: ${p.network ? "yes" : "no"}`);
    for (const step of p.steps) out.push(`Step: ${step}`);
    for (const c of p.copies) out.push(`Copy: ${c.host_path} -> ${c.guest_path} (${c.sha256})`);
  }
  for (const kv of e.image_env) out.push(`Env: ${kv}`);
  if (e.working_dir) out.push(`Working dir: ${e.working_dir}`);
  if (e.problem) out.push(`Problem: ${e.problem} (fix: pyro env pull ${e.name})`);
  return lines(...out);
}

/** `--copy HOST:GUEST`: the guest path is absolute, so the split is at the last ":/". */
export function parseCopy(spec: string): { hostPath: string; guestPath: string } {
  const at = spec.lastIndexOf(":/");
  const hostPath = at > 0 ? spec.slice(0, at) : "";
  const guestPath = at > 0 ? spec.slice(at + 1) : "";
  if (!hostPath || !guestPath || guestPath.includes("\0") || guestPath.endsWith("/")) {
    throw new PyroError("INVALID_ARGUMENT", `copy "${spec}" is not HOST_PATH:GUEST_PATH`, {
      hint: "Write each copy as HOST_FILE:/absolute/guest/file, e.g. ./requirements.txt:/opt/app/requirements.txt.",
    });
  }
  return { hostPath, guestPath };
}

export const buildEnvironment = defineOperation({
  sdk: "buildEnvironment",
  sdkArgs: ["name"],
  hooks: ["onProgress", "onStdout", "onStderr", "signal"],
  mcp: { tool: "vm_build_environment", title: "Build environment" },
  cli: {
    path: ["env", "build"],
    args: ["name"],
    extra: {
      options: [
        {
          flag: "--run <command...>",
          description: "a shell command to run in the base (repeat for more steps, in order)",
          field: "steps",
        },
        {
          flag: "--copy <host:guest...>",
          description: "copy a host file to an absolute guest path before the steps (repeatable)",
          field: "copies",
        },
      ],
      fold: (flags) => {
        const list = (value: unknown): string[] =>
          Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)];
        const values = flags as Record<string, unknown>;
        return { steps: list(values.run), copies: list(values.copy) };
      },
    },
    examples: [
      "pyro env build py:1 --from debian:12 --network --run 'apt-get update' --run 'apt-get install -y python3'",
      "pyro env build tools:1 --from 127.0.0.1:5000/tools:1 --copy ./setup.sh:/opt/setup.sh --run 'sh /opt/setup.sh'",
    ],
    notes:
      "Boots --from, copies the files in, runs each --run step in order, and saves the root filesystem as a new environment NAME with its provenance (base and its digest, steps, copied files' digests). A failing step prints its output and saves nothing. The same inputs reuse the saved result.",
  },
  description:
    "Build a derived environment: boot a base environment, copy files in, run setup commands, and save the result as a new environment (for example a toolchain) that every create and reset then starts from. Same inputs reuse the result.",
  hints: HINTS.update,
  input: {
    name: z.string().min(1).max(200).describe("Name of the new environment, e.g. my-project:1."),
    from: z
      .string()
      .min(1)
      .max(512)
      .describe("Base environment: a catalog name or a pulled or built one."),
    steps: z
      .array(z.string().min(1).max(65536))
      .min(1)
      .max(100)
      .describe("Shell commands run in order as root in the base (CLI: --run, repeatable)."),
    copies: z
      .array(z.string().min(3).max(8192))
      .max(100)
      .optional()
      .describe(
        "Host files to copy in first, each HOST_PATH:/guest/path (CLI: --copy, repeatable).",
      ),
    network: z.boolean().optional().describe("Give the build VM network access (downloads)."),
    step_timeout_seconds: z
      .number()
      .int()
      .min(1)
      .max(86400)
      .optional()
      .describe("Time limit of each step (default 1800)."),
  },
  output: environmentBuild,
  run: (manager, input, hooks) =>
    manager.buildEnvironment({
      name: input.name,
      from: input.from,
      steps: input.steps,
      copies: (input.copies ?? []).map(parseCopy),
      ...(input.network !== undefined ? { network: input.network } : {}),
      ...(input.step_timeout_seconds !== undefined
        ? { stepTimeoutSeconds: input.step_timeout_seconds }
        : {}),
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
      ...(hooks.onStdout ? { onStdout: hooks.onStdout } : {}),
      ...(hooks.onStderr ? { onStderr: hooks.onStderr } : {}),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
    }),
  print: (payload) => ({
    stdout:
      printInspect(payload) +
      (payload.built ? "Built: yes\n" : "Built: no (same inputs; reused)\n"),
  }),
});
