#!/usr/bin/env python3
"""End-to-end test: runs pyro-agent against a Unix socket acting as the host.

usage: python3 e2e.py PATH/TO/pyro-agent
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

MAX_FRAME = 1114112
MAX_CHUNK = 65536


class Host:
    def __init__(self, agent):
        self.dir = tempfile.mkdtemp(prefix="pyro-e2e-")
        path = os.path.join(self.dir, "agent.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        self.proc = subprocess.Popen([agent, "--port", path])
        srv.settimeout(5)
        self.sock, _ = srv.accept()
        srv.close()
        self.sock.settimeout(10)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, channel, header, payload=b""):
        h = header if isinstance(header, bytes) else json.dumps(header).encode()
        self.send_raw(struct.pack("<III", 8 + len(h) + len(payload), channel, len(h)) + h + payload)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("agent closed the connection")
            self.buf += chunk

    def recv(self):
        self._need(12)
        frame_len, channel, header_len = struct.unpack("<III", self.buf[:12])
        assert 8 <= frame_len <= MAX_FRAME and header_len <= frame_len - 8, (frame_len, header_len)
        self._need(4 + frame_len)
        header = json.loads(self.buf[12 : 12 + header_len].decode("utf-8"))
        payload = self.buf[12 + header_len : 4 + frame_len]
        self.buf = self.buf[4 + frame_len :]
        assert isinstance(header, dict) and isinstance(header.get("type"), str), header
        return channel, header, payload

    def recv_on(self, channel):
        ch, h, p = self.recv()
        assert ch == channel, (ch, h)
        return h, p

    def run(self, channel, req, stdin_chunks=None):
        """Sends exec and collects the channel until exit/error."""
        self.send(channel, dict({"type": "exec"}, **req))
        for c in stdin_chunks or []:
            self.send(channel, {"type": "stdin"}, c)
        if stdin_chunks is not None:
            self.send(channel, {"type": "stdin_eof"})
        return self.collect(channel)

    def collect(self, channel, others=None):
        out, err, frames = bytearray(), bytearray(), []
        while True:
            ch, h, p = self.recv()
            if ch != channel:
                assert others is not None, ("frame on unexpected channel", ch, h)
                others.append((ch, h, p))
                continue
            frames.append(h)
            t = h["type"]
            if t == "stdout":
                assert len(p) <= MAX_CHUNK
                out += p
            elif t == "stderr":
                assert len(p) <= MAX_CHUNK
                err += p
            elif t in ("exit", "error"):
                return {"frames": frames, "end": h, "stdout": bytes(out), "stderr": bytes(err)}
            else:
                assert t == "started", h

    def close(self):
        self.sock.close()
        try:
            return self.proc.wait(timeout=5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            shutil.rmtree(self.dir, ignore_errors=True)


passed = 0


def check(name, cond, detail=""):
    global passed
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    passed += 1
    print(f"ok  {name}")


def read_until(h, ch, needle):
    """Collects a pty channel's stdout until `needle` (bytes) shows up; returns all of it."""
    buf = bytearray()
    while needle not in buf:
        hd, p = h.recv_on(ch)
        assert hd["type"] == "stdout", ("waiting for", needle, hd, bytes(buf))
        buf += p
    return bytes(buf)


def pty_tests(h):
    bash = shutil.which("bash")
    argv = [bash, "--norc", "--noprofile", "-i"] if bash else ["/bin/sh", "-i"]
    prompt = b"pyro$ "
    h.send(50, {"type": "exec", "argv": argv, "pty": True, "cols": 91, "rows": 27, "env": {"PS1": "pyro$ "}})
    hd, _ = h.recv_on(50)
    check("pty: started", hd["type"] == "started", hd)
    read_until(h, 50, prompt)

    def cmd(line, needle):
        h.send(50, {"type": "stdin"}, line)
        return read_until(h, 50, needle)

    # The echoed command line never contains the answer ("40+2", 'for""ty-two'): only output does.
    cmd(b"echo $((40+2))\n", b"42\r\n")
    check("pty: shell answers through the terminal (onlcr: \\r\\n)", True)
    rest = cmd(b"stty size; echo en\"\"d\n", b"end\r\n")
    check("pty: stty size is the requested rows/cols", b"27 91\r\n" in rest, rest)
    h.send(50, {"type": "resize", "cols": 100, "rows": 40})
    rest = cmd(b"stty size; echo en\"\"d\n", b"end\r\n")
    check("pty: resize changes stty size", b"40 100\r\n" in rest, rest)
    rest = cmd(b"tty; echo en\"\"d\n", b"end\r\n")
    check("pty: tty is /dev/pts/N", re.search(rb"[\r\n]/dev/pts/[0-9]+\r\n", rest), rest)
    h.send(50, {"type": "stdin_eof"})  # ignored on a pty
    cmd(b"echo ali\"\"ve\n", b"alive\r\n")
    check("pty: stdin_eof is ignored", True)

    cmd(b"sleep 100\n", b"sleep 100\r\n")  # the echo: the job is being started
    time.sleep(0.5)
    t0 = time.monotonic()
    h.send(50, {"type": "signal", "signal": "INT"})
    read_until(h, 50, prompt)
    cmd(b"echo ali\"\"ve\n", b"alive\r\n")
    check("pty: INT reaches the foreground job, shell survives", time.monotonic() - t0 < 5)
    h.send(50, {"type": "stdin"}, b"exit 7\n")
    r = h.collect(50)
    check("pty: exit from the shell", r["end"]["type"] == "exit" and r["end"]["exit_code"] == 7, r)

    # KILL (what the host sends to cancel) ends the whole session, not just the foreground job.
    h.send(51, {"type": "exec", "argv": argv, "pty": True, "env": {"PS1": "pyro$ "}})
    h.recv_on(51)
    read_until(h, 51, prompt)
    h.send(51, {"type": "stdin"}, b"stty size; sleep 100\n")
    read_until(h, 51, b"30 120\r\n")
    time.sleep(0.3)
    t0 = time.monotonic()
    h.send(51, {"type": "signal", "signal": "KILL"})
    r = h.collect(51)
    check("pty: default size 120x30, KILL ends the session", r["end"]["type"] == "exit"
          and r["end"]["signal"] == "KILL" and time.monotonic() - t0 < 5, r["end"])

    # Non-interactive pty: everything is stdout, drained fully before exit, exit code kept.
    r = h.run(52, {"argv": ["/bin/sh", "-c", "echo err >&2; head -c 300000 /dev/zero | tr '\\0' a; exit 5"],
                   "pty": True})
    check("pty: output drained, stderr merged, exit code", r["end"]["exit_code"] == 5 and r["stderr"] == b""
          and r["stdout"] == b"err\r\n" + b"a" * 300000, (r["end"], len(r["stdout"]), r["stdout"][:20]))

    def expect_error(ch, code, what):
        hd, _ = h.recv_on(ch)
        check(what, hd["type"] == "error" and hd["code"] == code, hd)

    h.send(53, {"type": "exec", "argv": ["sleep", "10"]})
    h.recv_on(53)
    h.send(53, {"type": "resize", "cols": 80, "rows": 24})
    expect_error(53, "BAD_REQUEST", "resize on a non-pty channel")
    h.send(54, {"type": "exec", "argv": ["/bin/true"], "pty": True, "cols": 0})
    expect_error(54, "BAD_REQUEST", "pty cols 0 refused")
    h.send(55, {"type": "exec", "argv": ["/bin/true"], "pty": True, "rows": 1001})
    expect_error(55, "BAD_REQUEST", "pty rows 1001 refused")
    h.send(56, {"type": "exec", "argv": ["/bin/true"], "pty": "yes"})
    expect_error(56, "BAD_REQUEST", "pty must be a boolean")
    h.send(57, {"type": "exec", "argv": ["sleep", "10"], "pty": True})
    h.recv_on(57)
    h.send(57, {"type": "resize", "cols": 80})
    expect_error(57, "BAD_REQUEST", "resize without rows")


def recv_quiet(h, seconds):
    """The next frame, or None if the agent stays silent for `seconds`."""
    h.sock.settimeout(seconds)
    try:
        return h.recv()
    except socket.timeout:
        return None
    finally:
        h.sock.settimeout(10)


def flow_tests(h):
    # A channel's output stops at its credit: the child blocks on write, and the agent sends
    # nothing more (not even exit) until the host grants more.
    total = 3_000_000
    h.send(70, {"type": "exec", "argv": ["/bin/sh", "-c", f"head -c {total} /dev/zero | tr '\\0' b"],
                "window": 100_000})
    got, end = bytearray(), None
    check("started", h.recv_on(70)[0]["type"] == "started")
    while len(got) < 100_000:
        hd, p = h.recv_on(70)
        assert hd["type"] == "stdout", hd
        got += p
    check("output stops at the window", len(got) == 100_000 and recv_quiet(h, 0.7) is None, len(got))
    while end is None:
        h.send(70, {"type": "credit", "bytes": 250_000})
        frame = recv_quiet(h, 5)
        while frame is not None:
            ch, hd, p = frame
            assert ch == 70, (ch, hd)
            if hd["type"] == "exit":
                end = hd
                break
            got += p
            frame = recv_quiet(h, 0.3)
    check("credit delivers the rest, then exit", got == b"b" * total and end["exit_code"] == 0,
          (len(got), end))

    # KILL ends a channel that is out of credit: exit comes without waiting for a grant.
    h.send(75, {"type": "exec", "argv": ["yes"], "window": 1000})
    check("started", h.recv_on(75)[0]["type"] == "started")
    got = 0
    while got < 1000:
        hd, p = h.recv_on(75)
        got += len(p)
    h.send(75, {"type": "signal", "signal": "KILL"})
    hd, _ = h.recv_on(75)
    check("KILL without credit -> exit", hd["type"] == "exit" and hd["signal"] == "KILL", hd)

    # Credit abuse: a grant over the cap is clamped (output still flows); bad grants fail the
    # channel and kill its process.
    r = h.run(71, {"argv": ["/bin/sh", "-c", "echo ok"], "window": 2**53 - 1})
    check("huge window is clamped", r["stdout"] == b"ok\n" and r["end"]["exit_code"] == 0, r)
    h.send(72, {"type": "exec", "argv": ["sleep", "30"], "window": 10})
    h.recv_on(72)
    h.send(72, {"type": "credit", "bytes": -5})
    hd, _ = h.recv_on(72)
    check("negative credit -> BAD_REQUEST", hd["type"] == "error" and hd["code"] == "BAD_REQUEST", hd)
    h.send(73, {"type": "exec", "argv": ["true"], "window": "lots"})
    hd, _ = h.recv_on(73)
    check("bad window -> BAD_REQUEST", hd["type"] == "error" and hd["code"] == "BAD_REQUEST", hd)
    h.send(74, {"type": "credit", "bytes": 5})  # no such channel: dropped, like stdin
    check("credit on an unknown channel is dropped", recv_quiet(h, 0.3) is None)


def main(agent):
    h = Host(agent)

    # Before hello the agent only answers with an error; a wrong protocol is refused.
    h.send(0, {"type": "ping"})
    hd, _ = h.recv_on(0)
    check("request before hello is refused", hd["type"] == "error" and hd["code"] == "BAD_REQUEST", hd)
    h.send(0, {"type": "hello", "protocol": 1, "host_version": "9.9.9"})
    hd, _ = h.recv_on(0)
    check("protocol mismatch", hd["type"] == "error" and hd["code"] == "PROTOCOL_MISMATCH", hd)

    h.send(0, {"type": "hello", "protocol": 3, "host_version": "2.8.0"})
    hd, _ = h.recv_on(0)
    check("hello", hd == {"type": "hello", "protocol": 3, "agent_version": "2.8.0", "capabilities": ["exec", "pty", "setup"]}, hd)
    h.send(0, {"type": "ping"})
    check("ping/pong", h.recv_on(0)[0] == {"type": "pong"})
    # setup validates everything before it applies anything (applying needs a real guest).
    h.send(0, {"type": "setup", "machine_id": "../../etc"})
    hd, _ = h.recv_on(0)
    check("bad setup refused", hd["type"] == "error" and hd["code"] == "BAD_REQUEST", hd)
    h.send(0, {"type": "setup", "mounts": [{"serial": "x", "target": "/a/../etc"}]})
    hd, _ = h.recv_on(0)
    check("setup mount path checked", hd["type"] == "error" and hd["code"] == "BAD_REQUEST", hd)

    r = h.run(1, {"argv": ["/bin/sh", "-c", "echo hi; echo err >&2; exit 3"]})
    started = r["frames"][0]
    check("started first", started["type"] == "started" and isinstance(started["pid"], int), r["frames"])
    check("stdout", r["stdout"] == b"hi\n", r["stdout"])
    check("stderr", r["stderr"] == b"err\n", r["stderr"])
    e = r["end"]
    check("exit 3", e["type"] == "exit" and e["exit_code"] == 3 and e["signal"] is None
          and e["timed_out"] is False and isinstance(e["duration_ms"], int), e)

    t0 = time.monotonic()
    r = h.run(2, {"argv": ["/bin/sh", "-c", "sleep 5"], "timeout_ms": 300})
    took = time.monotonic() - t0
    e = r["end"]
    check("timeout", e["exit_code"] == 124 and e["timed_out"] is True and took < 3, (e, took))

    r = h.run(3, {"argv": ["/bin/sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' a"]})
    check("5 MB of output intact", r["stdout"] == b"a" * 5000000 and r["end"]["exit_code"] == 0,
          (len(r["stdout"]), r["end"]))

    flow_tests(h)

    r = h.run(4, {"argv": ["cat"], "stdin": True}, [b"hello ", b"world\n", b""])
    check("stdin forwarding", r["stdout"] == b"hello world\n" and r["end"]["exit_code"] == 0, r)

    big = os.urandom(3 * 1024 * 1024)
    chunks = [big[i : i + 1000000] for i in range(0, len(big), 1000000)]
    r = h.run(5, {"argv": ["/bin/sh", "-c", "cat | sha256sum"], "stdin": True}, chunks)
    import hashlib
    check("3 MB of stdin intact", r["stdout"].split()[0].decode() == hashlib.sha256(big).hexdigest(), r["stdout"])

    r = h.run(6, {"argv": ["/bin/sh", "-c", 'pwd; echo "$FOO"; echo "$HOME $LANG $TERM"; echo "$PATH"'],
                  "cwd": "/tmp", "env": {"FOO": "bar baz", "LANG": "en_US.UTF-8"}})
    lines = r["stdout"].decode().splitlines()
    check("cwd and env", lines == ["/tmp", "bar baz", "/root en_US.UTF-8 xterm-256color",
                                   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], lines)

    r = h.run(7, {"argv": ["/bin/sh", "-c", "cat"]})
    check("stdin:false gives /dev/null", r["stdout"] == b"" and r["end"]["exit_code"] == 0, r)

    r = h.run(8, {"argv": ["/nonexistent/binary", "x"]})
    check("missing binary -> 127", r["end"]["type"] == "exit" and r["end"]["exit_code"] == 127
          and b"/nonexistent/binary" in r["stderr"], r)
    r = h.run(9, {"argv": ["pyro-no-such-command-xyz"]})
    check("missing command on PATH -> 127", r["end"]["exit_code"] == 127, r)

    r = h.run(10, {"argv": ["/bin/true"], "cwd": "/nonexistent/dir"})
    check("bad cwd -> BAD_CWD", r["frames"] == [r["end"]] and r["end"]["type"] == "error"
          and r["end"]["code"] == "BAD_CWD", r["frames"])

    h.send(11, {"type": "exec", "argv": ["/bin/sh", "-c", "echo ready; sleep 10"]})
    h.recv_on(11)  # started
    hd, p = h.recv_on(11)
    assert hd["type"] == "stdout" and p == b"ready\n", (hd, p)
    h.send(11, {"type": "signal", "signal": "TERM"})
    r = h.collect(11)
    check("signal TERM -> 143", r["end"]["exit_code"] == 143 and r["end"]["signal"] == "TERM", r["end"])

    t0 = time.monotonic()
    r = h.run(12, {"argv": ["/bin/sh", "-c", "sleep 3 & echo bg"]})
    check("background child does not delay exit", r["stdout"] == b"bg\n" and time.monotonic() - t0 < 2, r)

    # A child flooding output while the host does not read must not grow the agent's memory.
    def rss_kb():
        with open(f"/proc/{h.proc.pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    before = rss_kb()
    h.send(13, {"type": "exec", "argv": ["/bin/sh", "-c", "yes flood"]})
    time.sleep(1.0)
    grown = rss_kb() - before
    h.send(13, {"type": "signal", "signal": "KILL"})
    r = h.collect(13)
    print(f"    (agent RSS grew {grown} KiB while flooding)")
    check("flooding child keeps agent memory bounded", grown < 8192 and r["end"]["signal"] == "KILL",
          (grown, r["end"], len(r["stdout"])))

    # Interleaved channels.
    for ch in (20, 21, 22):
        h.send(ch, {"type": "exec", "argv": ["/bin/sh", "-c", f"sleep 0.2; echo {ch}"]})
    got, done = {}, set()
    while len(done) < 3:
        ch, hd, p = h.recv()
        if hd["type"] == "stdout":
            got[ch] = got.get(ch, b"") + p
        elif hd["type"] == "exit":
            done.add(ch)
    check("concurrent channels", got == {20: b"20\n", 21: b"21\n", 22: b"22\n"}, got)

    pty_tests(h)

    # Bad requests: each answered with an error on its channel, agent keeps going.
    def expect_error(ch, code, what):
        hd, _ = h.recv_on(ch)
        check(what, hd["type"] == "error" and hd["code"] == code, hd)

    h.send(30, b"not json")
    expect_error(30, "BAD_REQUEST", "invalid JSON header")
    h.send(31, b"[1,2]")
    expect_error(31, "BAD_REQUEST", "header not an object")
    h.send(32, {"argv": ["x"]})
    expect_error(32, "BAD_REQUEST", "missing type")
    h.send(33, {"type": "frobnicate"})
    expect_error(33, "UNKNOWN_TYPE", "unknown type")
    h.send(34, {"type": "exec", "argv": []})
    expect_error(34, "BAD_REQUEST", "empty argv")
    h.send(35, {"type": "exec", "argv": ["/bin/true"], "timeout_ms": -1})
    expect_error(35, "BAD_REQUEST", "negative timeout")
    h.send(0, {"type": "exec", "argv": ["/bin/true"]})
    expect_error(0, "BAD_REQUEST", "exec on channel 0")
    h.send(36, {"type": "stdin"}, b"late")  # channel without a process: dropped silently
    # Header over 64 KiB inside a sane frame: error on that channel, frame skipped, stream in sync.
    big_header = b'{"type":"exec","pad":"' + b"x" * 70000 + b'"}'
    h.send(37, big_header)
    expect_error(37, "BAD_REQUEST", "oversized header skipped")
    h.send(0, {"type": "ping"})
    check("still in sync after bad frames", h.recv_on(0)[0] == {"type": "pong"})

    # Bad sub-request on a live channel ends it with an error (and kills the process).
    h.send(38, {"type": "exec", "argv": ["sleep", "10"]})
    h.recv_on(38)
    h.send(38, {"type": "signal", "signal": "BOGUS"})
    expect_error(38, "BAD_REQUEST", "bad signal name ends the channel")

    # Process limit.
    for ch in range(100, 100 + 257):
        h.send(ch, {"type": "exec", "argv": ["sleep", "10"]})
    starts, errs = 0, []
    while starts + len(errs) < 257:
        ch, hd, _ = h.recv()
        if hd["type"] == "started":
            starts += 1
        elif hd["type"] == "error":
            errs.append(hd)
    check("process limit", starts == 256 and len(errs) == 1 and errs[0]["code"] == "SPAWN_FAILED", (starts, errs))
    for ch in range(100, 100 + 257):
        h.send(ch, {"type": "signal", "signal": "KILL"})
    exits = 0
    while exits < 256:
        ch, hd, _ = h.recv()
        exits += hd["type"] == "exit"
    check("all killed", exits == 256)

    # Framing-level corruption: error on channel 0, then the agent drops the connection.
    h.send_raw(struct.pack("<III", MAX_FRAME + 1, 40, 10))
    hd, _ = h.recv_on(0)
    check("oversized frame_len -> error on channel 0", hd["type"] == "error" and hd["code"] == "BAD_REQUEST", hd)
    rc = h.proc.wait(timeout=5)
    check("agent leaves without crashing", rc in (0, 1), rc)
    h.close()

    # EOF: the agent exits 0 and takes its children with it.
    h = Host(agent)
    h.send(0, {"type": "hello", "protocol": 3, "host_version": "2.8.0"})
    h.recv_on(0)
    h.send(1, {"type": "exec", "argv": ["sleep", "30"]})
    pid = h.recv_on(1)[0]["pid"]
    rc = h.close()
    time.sleep(0.3)
    alive = os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2]
    check("EOF -> exit 0, children killed", rc == 0 and not alive, (rc, alive))

    # shutdown when not PID 1: kill children, exit 0.
    h = Host(agent)
    h.send(0, {"type": "hello", "protocol": 3, "host_version": "2.8.0"})
    h.recv_on(0)
    h.send(1, {"type": "exec", "argv": ["sleep", "30"]})
    h.recv_on(1)
    h.send(0, {"type": "shutdown"})
    rc = h.proc.wait(timeout=5)
    check("shutdown -> exit 0", rc == 0, rc)
    h.close()

    print(f"e2e: {passed} checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
