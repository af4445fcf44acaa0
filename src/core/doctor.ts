import fs from "node:fs/promises";
import { agentBinaryPath, environmentsDir, type PyroPaths } from "./paths.js";
import { DEFAULT_ENVIRONMENT } from "../environments/catalog.js";
import { inspectAll } from "../environments/store.js";
import { findTool, HOST_TOOLS, type HostTool, qemuVersion } from "../runtime/host-tools.js";
import { ensureInitramfs } from "../runtime/initramfs.js";
import { chooseAccelerator, type AcceleratorChoice } from "../runtime/qemu/accel.js";
import { VERSION } from "../version.js";

import { listTemplates, warmEnabled } from "./warm/template.js";

export interface DoctorIssue {
  problem: string;
  fix: string;
}

export interface DoctorPayload {
  version: string;
  platform: string;
  node_version: string;
  runtime: "PASS" | "FAIL";
  qemu: { path: string | null; version: string | null };
  accelerator: AcceleratorChoice;
  host_tools: { tool: string; package: string; path: string | null }[];
  agent: { path: string; present: boolean };
  environment_cache: string;
  environments: {
    name: string;
    installed: boolean;
    kernel_version: string | null;
    problem: string | null;
  }[];
  boot_artifacts: { environment: string; kernel: boolean; rootfs: boolean; initramfs: boolean };
  capabilities: { vm_boot: boolean; guest_exec: boolean; guest_network: boolean };
  /** Warm starts: whether they are on, and the saved post-boot states on disk. */
  warm: {
    enabled: boolean;
    boot_path: "warm" | "cold";
    saved_states: { environment: string; shape: string; created_at: string; state_bytes: number }[];
  };
  issues: DoctorIssue[];
}

/**
 * A host health report. It says which accelerator is used and why (probing KVM once if an
 * environment is installed), what is present, and for each missing piece the command that fixes it.
 */
export async function doctor(paths: PyroPaths): Promise<DoctorPayload> {
  const issues: DoctorIssue[] = [];
  const tools = (Object.keys(HOST_TOOLS) as HostTool[]).map((tool) => ({
    tool: HOST_TOOLS[tool].binary,
    package: HOST_TOOLS[tool].pkg,
    path: findTool(tool) ?? null,
  }));
  for (const tool of tools) {
    if (!tool.path)
      issues.push({ problem: `${tool.tool} is missing`, fix: `apt-get install ${tool.package}` });
  }
  const agentPath = agentBinaryPath();
  const agentPresent = await fs.stat(agentPath).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!agentPresent) issues.push({ problem: "the guest agent is not built", fix: "make build" });

  const installs = await inspectAll(paths);
  for (const install of installs) {
    if (install.problem) {
      issues.push({
        problem: `${install.name}: ${install.problem}`,
        fix: `pyro env pull ${install.name}`,
      });
    }
  }
  const usable =
    installs.find((i) => i.name === DEFAULT_ENVIRONMENT && i.installed) ??
    installs.find((i) => i.installed);
  if (!usable) {
    issues.push({
      problem: "no environment is installed",
      fix: `pyro env pull ${DEFAULT_ENVIRONMENT}`,
    });
  }

  const qemuPath = findTool("qemu") ?? null;
  const version = (await qemuVersion()) ?? null;
  let initramfs = false;
  let accelerator: AcceleratorChoice;
  if (usable && agentPresent && qemuPath && findTool("busybox") && findTool("cpio")) {
    const initramfsPath = await ensureInitramfs(paths, usable).catch(() => undefined);
    initramfs = initramfsPath !== undefined;
    accelerator = await chooseAccelerator(
      paths,
      initramfsPath
        ? {
            kernelPath: usable.kernel_image,
            initramfsPath,
            rootImage: usable.rootfs_image,
            qemuVersion: version ?? "unknown",
          }
        : undefined,
    );
  } else {
    accelerator = await chooseAccelerator(paths, undefined, { probe: false });
  }

  const vmBoot = qemuPath !== null && usable !== undefined && initramfs;
  const payload: DoctorPayload = {
    version: VERSION,
    platform: `${process.platform}-${process.arch === "x64" ? "x86_64" : process.arch}`,
    node_version: process.version,
    runtime: "FAIL",
    qemu: { path: qemuPath, version },
    accelerator,
    host_tools: tools,
    agent: { path: agentPath, present: agentPresent },
    environment_cache: environmentsDir(paths),
    environments: installs.map((i) => ({
      name: i.name,
      installed: i.installed,
      kernel_version: i.kernel_version,
      problem: i.problem,
    })),
    boot_artifacts: {
      environment: usable?.name ?? DEFAULT_ENVIRONMENT,
      kernel: usable !== undefined,
      rootfs: usable !== undefined,
      initramfs,
    },
    capabilities: { vm_boot: vmBoot, guest_exec: vmBoot && agentPresent, guest_network: vmBoot },
    warm: {
      enabled: warmEnabled(),
      boot_path: warmEnabled() ? "warm" : "cold",
      saved_states: (await listTemplates(paths)).map((t) => ({
        environment: t.environment,
        shape: t.shape,
        created_at: t.created_at,
        state_bytes: t.state_bytes,
      })),
    },
    issues,
  };
  payload.runtime = payload.capabilities.guest_exec ? "PASS" : "FAIL";
  return payload;
}
