"""One ``pyro mcp serve`` child and the JSON-RPC (MCP stdio) conversation with it.

Messages are newline-delimited JSON. Reading is bounded: a line longer than ``max_message_bytes``
ends the session (the stream can no longer be trusted) instead of growing memory. A request that
is interrupted (KeyboardInterrupt) or runs past its deadline is cancelled with
``notifications/cancelled``, unless the caller asked to adopt its late answer (creations, whose
result must be cleaned up rather than lost).
"""

import collections
import json
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import PyroError

#: Largest JSON-RPC message accepted from the server. The server bounds command output, shell
#: reads and logs (a few MiB at most, doubled by the text copy and JSON escaping).
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 256 * 1024
_STDERR_TAIL_BYTES = 16 * 1024

Adopter = Callable[[dict[str, Any]], None]


class McpSession:
    """The child process plus request/response bookkeeping. Not thread-safe: one caller."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.argv = argv
        self.max_message_bytes = max_message_bytes
        # A new session: Ctrl-C in the terminal reaches Python (which cancels the request),
        # not the server, which would otherwise die mid-operation.
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self._stderr_tail: collections.deque[bytes] = collections.deque()
        self._stderr_size = 0
        self._stderr_lock = threading.Lock()
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        self._buffer = bytearray()
        self._next_id = 0
        self._closed = False
        #: Abandoned requests whose late answer is still wanted: id -> what to do with the result.
        self._adopted: dict[int, Adopter] = {}

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self._proc.poll() is None

    @property
    def adopted_pending(self) -> int:
        return len(self._adopted)

    def stderr_tail(self) -> str:
        with self._stderr_lock:
            return b"".join(self._stderr_tail).decode("utf-8", "replace").strip()

    def _drain_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._stderr_lock:
                self._stderr_tail.append(chunk)
                self._stderr_size += len(chunk)
                while self._stderr_size > _STDERR_TAIL_BYTES and len(self._stderr_tail) > 1:
                    self._stderr_size -= len(self._stderr_tail.popleft())

    def settle_adopted(self, deadline: float) -> None:
        """Wait (until ``deadline``) for the late answers of adopted requests and hand them over."""
        while self._adopted and self.alive and time.monotonic() < deadline:
            try:
                self._read_message(deadline)
            except TimeoutError:
                return

    def close(self, grace_seconds: float = 5.0) -> None:
        """End the server: close its stdin (it exits on EOF), then TERM, then KILL."""
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        self._stderr_thread.join(timeout=grace_seconds)
        if proc.stderr and not self._stderr_thread.is_alive():
            proc.stderr.close()

    # --- messages --------------------------------------------------------------------------

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        timeout: float | None = None,
        adopt: Adopter | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        """Send one request and wait for its answer; return the JSON-RPC ``result``.

        On KeyboardInterrupt or when ``timeout`` seconds pass, the request is cancelled (or, with
        ``adopt``, its late answer is handed to ``adopt`` when it arrives) and the interrupt or a
        CANCELLED PyroError is raised.
        """
        self._next_id += 1
        request_id = self._next_id
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                message = self._read_message(deadline)
                if message is not None and message.get("id") == request_id:
                    break
        except KeyboardInterrupt:
            self._abandon(request_id, "interrupted by the client (KeyboardInterrupt)", adopt)
            raise
        except TimeoutError:
            self._abandon(request_id, f"no answer within {timeout:g} s", adopt)
            raise PyroError(
                "CANCELLED",
                f"{label or method} did not answer within {timeout:g} s; the request was cancelled",
                "Give the Pyro a larger request_timeout (or None), or a smaller timeout_seconds "
                "to the operation itself.",
            ) from None
        if "error" in message:
            error = message["error"] if isinstance(message["error"], dict) else {}
            raise PyroError(
                "PROTOCOL_ERROR",
                f"{label or method} failed in the MCP server: {error.get('message', error)}",
                "This pyro may not support this call; check `pyro --version`.",
                {"jsonrpc_code": error.get("code"), "jsonrpc_message": error.get("message")},
            )
        result = message.get("result")
        if not isinstance(result, dict):
            raise self._broken(f"the answer to {label or method} has no result object")
        return result

    def _abandon(self, request_id: int, reason: str, adopt: Adopter | None) -> None:
        if not self.alive:
            return
        if adopt is not None:
            self._adopted[request_id] = adopt
            return
        try:
            self.notify("notifications/cancelled", {"requestId": request_id, "reason": reason})
        except PyroError:
            pass

    def _send(self, message: dict[str, Any]) -> None:
        if not self.alive:
            raise self._broken("the pyro MCP server is not running")
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._broken("the pyro MCP server closed its input") from None
        except KeyboardInterrupt:
            # Part of the line may be written: the stream is no longer framed, end the session.
            self.close(grace_seconds=1.0)
            raise

    def _read_message(self, deadline: float | None) -> dict[str, Any] | None:
        """Read one message and dispatch what is not an answer; the answer itself is returned.

        Returns None for messages handled here (server requests, notifications, adopted answers).
        """
        line = self._read_line(deadline)
        try:
            message = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise self._broken("the pyro MCP server wrote a line that is not JSON") from None
        if not isinstance(message, dict):
            raise self._broken("the pyro MCP server wrote a JSON value that is not an object")
        if "method" in message:
            if "id" in message:
                self._answer_server_request(message)
            return None
        request_id = message.get("id")
        adopter = self._adopted.pop(request_id, None) if isinstance(request_id, int) else None
        if adopter is not None:
            result = message.get("result")
            if isinstance(result, dict):
                adopter(result)
            return None
        return message

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        if message.get("method") == "ping":
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
        else:
            self._send(
                {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {"code": -32601, "message": "the pyro Python SDK offers no methods"},
                }
            )

    def _read_line(self, deadline: float | None) -> bytes:
        stdout = self._proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                if len(line) > self.max_message_bytes:
                    raise self._too_long()
                return line
            if len(self._buffer) > self.max_message_bytes:
                raise self._too_long()
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                raise self._broken("the pyro MCP server exited")
            self._buffer += chunk

    def _too_long(self) -> PyroError:
        self._buffer.clear()
        error = PyroError(
            "PROTOCOL_ERROR",
            f"the pyro MCP server sent a message over {self.max_message_bytes} bytes; "
            "the session was closed",
            "Ask for less output (tail_lines, max_chars, max_bytes), or give Pyro a larger "
            "max_message_bytes.",
        )
        self.close(grace_seconds=1.0)
        return error

    def _broken(self, what: str) -> PyroError:
        # The stream is unusable; do not leave the server running behind a dead session.
        self.close(grace_seconds=1.0)
        status = self._proc.poll()
        tail = self.stderr_tail()
        detail = f" (exit status {status})" if status is not None else ""
        message = f"{what}{detail}" + (f": {tail[-2000:]}" if tail else "")
        return PyroError(
            "PROTOCOL_ERROR",
            message,
            f"Check that `{' '.join(self.argv)}` runs; start a new Pyro() to continue.",
        )
