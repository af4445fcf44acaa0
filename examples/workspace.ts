/**
 * A tour of the pyro SDK: seed a workspace, run commands, look at the diff, export a file, run a
 * service with a readiness probe, use a shell, take a named snapshot, break things, and reset
 * (to the snapshot, then to the baseline) instead of repairing.
 *
 * Run it with `npx tsx examples/workspace.ts` (tests/guest/example.test.ts does).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Pyro } from "pyro-mcp";

const here = path.dirname(fileURLToPath(import.meta.url));
const pyro = new Pyro();

const workspace = await pyro.createWorkspace({
  environment: "debian:12",
  seedPath: path.join(here, "seed"),
});
const id = workspace.workspace_id;
console.log(`workspace ${id} (${workspace.workspace_seed.entry_count} seeded entries)`);

try {
  // Commands run in /workspace and are journaled.
  const check = await pyro.execWorkspace(id, { command: "sh check.sh" });
  console.log(`check: ${check.stdout.trim()} (exit ${check.exit_code})`);
  await pyro.execWorkspace(id, {
    command: "printf 'def sub(a, b):\\n    return a - b\\n' >> calc.py",
  });

  // What changed since the seed, and a copy of it on the host.
  const diff = await pyro.diffWorkspace(id);
  console.log(`diff: ${diff.entries.map((e) => `${e.status} ${e.path}`).join(", ")}`);
  const outDir = mkdtempSync(path.join(os.tmpdir(), "pyro-example-"));
  await pyro.exportWorkspace(id, "calc.py", { outputPath: path.join(outDir, "calc.py") });
  console.log(
    `exported calc.py: ${readFileSync(path.join(outDir, "calc.py"), "utf8").split("\n").length - 1} lines`,
  );

  // A background service, started once its readiness file exists.
  const service = await pyro.startService(id, "web", {
    command: "touch .web-ready && while true; do sleep 60; done",
    readiness: { type: "file", path: ".web-ready" },
  });
  const services = await pyro.listServices(id);
  console.log(
    `service ${service.service_name}: ${service.state}; services=${services.count} running=${services.running_count}`,
  );

  // A shell keeps its state between calls.
  const shell = await pyro.openShell(id);
  await pyro.writeShell(id, shell.shell_id, { input: "cd /tmp && export GREETING=hello" });
  await pyro.writeShell(id, shell.shell_id, { input: 'echo "$GREETING from $(pwd)"' });
  // Read until the answer arrives: each read waits for the output to go quiet for 500 ms, and
  // a busy host may pause longer than that between the echo and the answer.
  let said = "";
  let cursor = 0;
  for (let tries = 0; tries < 20 && !said.includes("hello from /tmp"); tries++) {
    const read = await pyro.readShell(id, shell.shell_id, {
      cursor,
      waitForIdleMs: 500,
      plain: true,
    });
    said += read.output;
    cursor = read.next_cursor;
  }
  console.log(`shell says: ${said.includes("hello from /tmp") ? "hello from /tmp" : said}`);

  // Checkpoint, break, reset to the checkpoint.
  await pyro.createSnapshot(id, "with-sub");
  await pyro.execWorkspace(id, { command: "rm calc.py check.sh" });
  const afterBreak = await pyro.execWorkspace(id, { command: "sh check.sh" });
  console.log(`after breaking it: exit ${afterBreak.exit_code}`);
  const reset = await pyro.resetWorkspace(id, { snapshot: "with-sub" });
  const fixed = await pyro.execWorkspace(id, { command: "sh check.sh && grep -c def calc.py" });
  console.log(
    `reset #${reset.reset_count} to with-sub: ${fixed.stdout.trim().replace("\n", ", ")} defs`,
  );
  const after = await pyro.listServices(id);
  console.log(`services after reset: ${after.count}; shells: ${(await pyro.listShells(id)).count}`);

  // And all the way back to the create-time baseline.
  await pyro.resetWorkspace(id);
  console.log(
    `after reset to baseline, changed since baseline: ${(await pyro.diffWorkspace(id)).changed}`,
  );
  console.log(
    `snapshots kept: ${(await pyro.listSnapshots(id)).snapshots.map((s) => s.snapshot_name).join(", ")}`,
  );
} finally {
  await pyro.deleteWorkspace(id);
  console.log(`deleted ${id}`);
}
