import type { Command } from "commander";
import type { DoctorPayload } from "../../core/doctor.js";
import type { CliContext } from "../context.js";
import { printJson, printLines, yesNo } from "../output.js";

export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command("doctor")
    .description(
      "Check this host: QEMU, accelerator (KVM or TCG), agent, environments, capabilities.",
    )
    .option("--json", "print the report as JSON")
    .addHelpText("after", "\nExample:\n  pyro doctor")
    .action(async (options: { json?: boolean }) =>
      ctx.run(options.json, async () => {
        const report = await ctx.manager().doctor();
        if (options.json) printJson(report);
        else printDoctor(report);
        return report.runtime === "PASS" ? 0 : 1;
      }),
    );
}

function printDoctor(r: DoctorPayload): void {
  const lines = [
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
    `Boot path: ${r.warm.boot_path}${r.warm.enabled ? ` (warm starts on; ${r.warm.saved_states.length} saved state(s))` : " (PYRO_WARM=0)"}`,
    `Capabilities: vm_boot=${yesNo(r.capabilities.vm_boot)} guest_exec=${yesNo(r.capabilities.guest_exec)} guest_network=${yesNo(r.capabilities.guest_network)}`,
  ];
  if (r.issues.length > 0) {
    lines.push("To fix:");
    for (const issue of r.issues) lines.push(`  - ${issue.problem}: run \`${issue.fix}\``);
  }
  printLines(process.stdout, ...lines);
}
