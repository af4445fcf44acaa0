import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJson, pyro } from "../support/cli.js";
import { cliJson, errorCode } from "../support/shells.js";
import { createWorkspace, wsExec, type Record_ } from "../support/workspace.js";

/** Background services with typed readiness, through the real CLI; one workspace per file. */
let ws: Record_;
let id: string;

beforeAll(async () => {
  ws = await createWorkspace();
  id = ws.workspace_id;
});

afterAll(async () => {
  if (ws) await pyro(["workspace", "delete", ws.workspace_id]);
});

interface Service {
  service_name: string;
  state: string;
  pid: number | null;
  ready_at: string | null;
  exit_code: number | null;
  stop_reason: string | null;
  failure_reason: string | null;
  readiness: Record<string, unknown> | null;
}

const start = (name: string, flags: string[], command: string[]) =>
  pyro(["workspace", "service", "start", id, name, ...flags, "--json", "--", ...command]);

async function started(name: string, flags: string[], command: string[]): Promise<Service> {
  const result = await start(name, flags, command);
  if (result.status !== 0) throw new Error(`start ${name} failed: ${result.stdout}${result.stderr}`);
  return parseJson<Service>(result.stdout);
}

// perl-base is in every Debian image; python and curl are not.
const TCP_LISTENER = `perl -MIO::Socket::INET -e 'sleep 1; my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 7001, Listen => 5, ReuseAddr => 1) or die "listen: $!"; print "tcp up\\n"; $| = 1; while (my $c = $s->accept) { close $c }'`;
const HTTP_SERVER = `perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 7002, Listen => 5, ReuseAddr => 1) or die "listen: $!"; $| = 1; print "http up\\n"; while (my $c = $s->accept) { while (my $l = <$c>) { last if $l =~ /^\\r?$/ } print $c "HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"; close $c }'`;

describe("workspace services", () => {
  it("service: a file readiness probe reaches running; logs keep stdout and stderr apart", async () => {
    const app = await started("app", ["--ready-file", ".ready"], [
      "sh", "-c", "echo to-out; echo to-err >&2; sleep 1; touch .ready; while true; do sleep 60; done",
    ]);
    expect(app).toMatchObject({ service_name: "app", state: "running", readiness: { type: "file", path: "/workspace/.ready" } });
    expect(app.ready_at).not.toBeNull();
    const logs = await cliJson<{ stdout: string; stderr: string; tail_lines: number | null }>([
      "workspace", "service", "logs", id, "app",
    ]);
    expect(logs).toMatchObject({ stdout: "to-out\n", stderr: "to-err\n", tail_lines: 200 });
    const human = await pyro(["workspace", "service", "logs", id, "app"]);
    expect(human.stdout).toBe("to-out\n");
    expect(human.stderr).toBe("to-err\n");
  });

  it("service: tcp, http and command probes reach running", async () => {
    const tcp = await started("tcp", ["--ready-tcp", "127.0.0.1:7001", "--ready-interval-ms", "200"], ["sh", "-c", TCP_LISTENER]);
    expect(tcp).toMatchObject({ state: "running", readiness: { type: "tcp", address: "127.0.0.1:7001" } });
    const http = await started("web", ["--ready-http", "http://127.0.0.1:7002/health"], ["sh", "-c", HTTP_SERVER]);
    expect(http).toMatchObject({ state: "running", readiness: { type: "http", url: "http://127.0.0.1:7002/health" } });
    await wsExec(id, "mkdir -p sub");
    const cmd = await started(
      "cmd",
      ["--cwd", "sub", "--ready-command", "test -s marker"],
      ["sh", "-c", "sleep 1; echo ready > marker; exec sleep 600"],
    );
    expect(cmd).toMatchObject({ state: "running", readiness: { type: "command", command: "test -s marker" } });
    // The Debian images' sh is dash: /dev/tcp needs bash.
    const body = await pyro([
      "workspace", "exec", id, "--", "bash", "-c",
      "exec 3<>/dev/tcp/127.0.0.1/7002; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3",
    ]);
    expect(body.stdout).toContain("ok");
  });

  it("service: list and workspace status count services; status shows one", async () => {
    const list = await cliJson<{ count: number; running_count: number; services: Service[] }>(["workspace", "service", "list", id]);
    expect(list.services.map((s) => s.service_name).sort()).toEqual(["app", "cmd", "tcp", "web"]);
    expect(list).toMatchObject({ count: 4, running_count: 4 });
    const record = await cliJson<{ service_count: number; running_service_count: number }>(["workspace", "status", id]);
    expect(record).toMatchObject({ service_count: 4, running_service_count: 4 });
    const human = await pyro(["workspace", "status", id]);
    expect(human.stdout).toContain("Services: 4/4");
    const status = await cliJson<Service>(["workspace", "service", "status", id, "web"]);
    expect(status).toMatchObject({ service_name: "web", state: "running" });
    expect(status.pid).toBeGreaterThan(1);
  });

  it("service: stop sends TERM (KILL after the grace period) and records stop_reason", async () => {
    const stopped = await cliJson<Service>(["workspace", "service", "stop", id, "tcp"]);
    expect(stopped).toMatchObject({ state: "stopped", stop_reason: "sigterm" });
    await started("stubborn", [], // exec: the process that ignores TERM is the service's own process, not a child of it.
      ["exec", "sh", "-c", "trap '' TERM; echo stubborn; while true; do sleep 1; done"]);
    const began = Date.now();
    const killed = await cliJson<Service>(["workspace", "service", "stop", id, "stubborn"]);
    expect(killed).toMatchObject({ state: "stopped", stop_reason: "sigkill" });
    expect(Date.now() - began).toBeGreaterThanOrEqual(4500);
    const again = await cliJson<Service>(["workspace", "service", "stop", id, "stubborn"]);
    expect(again.state).toBe("stopped");
    const list = await cliJson<{ count: number; running_count: number }>(["workspace", "service", "list", id]);
    expect(list).toMatchObject({ count: 5, running_count: 3 });
    const record = await cliJson<{ service_count: number; running_service_count: number }>(["workspace", "status", id]);
    expect(record).toMatchObject({ service_count: 5, running_service_count: 3 });
    // The name of a stopped service can be used again.
    expect((await started("tcp", ["--ready-tcp", "127.0.0.1:7001"], ["sh", "-c", TCP_LISTENER])).state).toBe("running");
  });

  it("service: stop leaves nothing of the service's process group, even children that ignore TERM", async () => {
    const sleepers = "grep -lx sleep /proc/[0-9]*/comm 2>/dev/null | wc -l";
    const before = Number((await wsExec(id, sleepers)).stdout.trim());
    await started("stubborn", [], ["sh", "-c", "(trap '' TERM; exec sleep 1000) & wait"]);
    expect(Number((await wsExec(id, sleepers)).stdout.trim())).toBe(before + 1);
    const stopped = await pyro(["workspace", "service", "stop", id, "stubborn", "--json"]);
    expect(parseJson<Service>(stopped.stdout).state).toBe("stopped");
    expect(Number((await wsExec(id, sleepers)).stdout.trim())).toBe(before);
  });

  it("service: a service that exits at once fails with its reason and log tail; the CLI exits non-zero", async () => {
    const result = await pyro(["workspace", "service", "start", id, "dies", "--", "sh", "-c", "echo about-to-die >&2; exit 3"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/service "dies" failed to start: the service exited with status 3[\s\S]*about-to-die[\s\S]*hint:/);
    const json = await start("dies", ["--ready-file", "never"], ["sh", "-c", "echo out-line; exit 4"]);
    expect(json.status).toBe(1);
    const error = parseJson<{ error: { code: string; details: { service: Service; stdout_tail: string } } }>(json.stdout).error;
    expect(error.code).toBe("SERVICE_FAILED");
    expect(error.details.service).toMatchObject({ state: "failed", exit_code: 4 });
    expect(error.details.stdout_tail).toBe("out-line\n");
    const status = await cliJson<Service>(["workspace", "service", "status", id, "dies"]);
    expect(status.state).toBe("failed");
    expect(status.failure_reason).toContain("exited with status 4");
  });

  it("service: a readiness timeout fails the start and stops the process", async () => {
    const began = Date.now();
    const result = await start("slow", ["--ready-file", "never-there", "--ready-timeout-seconds", "2"], ["sh", "-c", "echo waiting; sleep 600"]);
    expect(result.status).toBe(1);
    const error = parseJson<{ error: { code: string; message: string } }>(result.stdout).error;
    expect(error.code).toBe("SERVICE_FAILED");
    expect(error.message).toMatch(/readiness probe \(file \/workspace\/never-there\) did not succeed within 2 s[\s\S]*waiting/);
    expect(Date.now() - began).toBeLessThan(20_000);
    const status = await cliJson<Service>(["workspace", "service", "status", id, "slow"]);
    expect(status.state).toBe("failed");
    expect(status.exit_code).not.toBeNull(); // the process was ended
  });

  it("service: bad input is refused before anything starts", async () => {
    for (const name of ["_bad", ".hidden", "a b", "x".repeat(65), "dot/slash"]) {
      const result = await start(name, [], ["true"]);
      expect(errorCode(result), name).toBe("INVALID_ARGUMENT");
    }
    const duplicate = await start("app", [], ["sleep", "60"]);
    expect(errorCode(duplicate)).toBe("SERVICE_EXISTS");
    const combined = await start("combo", ["--ready-file", "x", "--ready-tcp", "127.0.0.1:1"], ["sleep", "60"]);
    expect(errorCode(combined)).toBe("INVALID_ARGUMENT");
    expect(parseJson<{ error: { message: string } }>(combined.stdout).error.message).toContain("at most one of");
    for (const escape of ["../../etc/passwd", "/etc/hostname"]) {
      const result = await start("escape", ["--ready-file", escape], ["sleep", "60"]);
      expect(errorCode(result)).toBe("UNSAFE_PATH");
    }
    const cwdEscape = await start("escape", ["--cwd", "sub", "--ready-file", "../../x"], ["sleep", "60"]);
    expect(errorCode(cwdEscape)).toBe("UNSAFE_PATH");
    const https = await start("tls", ["--ready-http", "https://127.0.0.1/"], ["sleep", "60"]);
    expect(errorCode(https)).toBe("INVALID_ARGUMENT");
    const empty = await pyro(["workspace", "service", "start", id, "empty", "--json"]);
    expect(errorCode(empty)).toBe("INVALID_ARGUMENT");
    const list = await cliJson<{ services: Service[] }>(["workspace", "service", "list", id]);
    expect(list.services.map((s) => s.service_name)).not.toContain("escape");
    for (const verb of ["status", "logs", "stop"]) {
      const unknown = await pyro(["workspace", "service", verb, id, "nope", "--json"]);
      expect(errorCode(unknown), verb).toBe("SERVICE_NOT_FOUND");
    }
  });

  it("service: logs --tail-lines and --all", async () => {
    await started("counter", [], ["sh", "-c", "for i in $(seq 1 300); do echo n$i; done; exec sleep 600"]);
    const tail = await cliJson<{ stdout: string; tail_lines: number }>(["workspace", "service", "logs", id, "counter", "--tail-lines", "3"]);
    expect(tail).toMatchObject({ stdout: "n298\nn299\nn300\n", tail_lines: 3 });
    const all = await cliJson<{ stdout: string; tail_lines: null }>(["workspace", "service", "logs", id, "counter", "--all"]);
    expect(all.tail_lines).toBeNull();
    expect(all.stdout.split("\n").filter(Boolean)).toHaveLength(300);
    const byDefault = await cliJson<{ stdout: string }>(["workspace", "service", "logs", id, "counter"]);
    expect(byDefault.stdout.split("\n").filter(Boolean)).toHaveLength(200);
  });

  it("service: logs and state live outside /workspace (diff never sees them)", async () => {
    const diff = await cliJson<{ entries: { path: string }[] }>(["workspace", "diff", id]);
    expect(diff.entries.map((e) => e.path).sort()).toEqual([".ready", "sub", "sub/marker"]);
  });

  it("reset: clears shells and services", async () => {
    await cliJson(["workspace", "shell", "open", id]);
    expect((await cliJson<{ count: number }>(["workspace", "shell", "list", id])).count).toBeGreaterThan(0);
    const reset = await cliJson<{ service_count: number; running_service_count: number; state: string }>(["workspace", "reset", id]);
    expect(reset).toMatchObject({ state: "started", service_count: 0, running_service_count: 0 });
    expect(await cliJson(["workspace", "shell", "list", id])).toMatchObject({ count: 0, shells: [] });
    expect(await cliJson(["workspace", "service", "list", id])).toMatchObject({ count: 0, running_count: 0, services: [] });
    const unknown = await pyro(["workspace", "shell", "read", id, "shell-1", "--json"]);
    expect(errorCode(unknown)).toBe("SHELL_NOT_FOUND");
    // The port of the old service is free again: its process went with the old VM.
    expect((await started("tcp", ["--ready-tcp", "127.0.0.1:7001"], ["sh", "-c", TCP_LISTENER])).state).toBe("running");
  });
});
