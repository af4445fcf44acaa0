"""``Pyro``: the Python SDK, a client of one long-lived ``pyro mcp serve`` child."""

import inspect
import keyword
import json
import os
import re
import subprocess
import time
from typing import Any

from . import types as result_types
from ._locate import INSTALL_HINT, MIN_PYRO_VERSION, check_version, locate_pyro
from ._rpc import DEFAULT_MAX_MESSAGE_BYTES, McpSession
from .errors import PyroError
from .operations import OPERATIONS, Op

#: MCP protocol revision this client speaks; the server answers with the one it chose.
PROTOCOL_VERSION = "2025-06-18"
#: What ``close()`` (and so ``with Pyro()``) deletes, by the result field that names it.
_DELETERS = {"workspace_id": "delete_workspace", "vm_id": "delete_vm"}
_UNSET: Any = inspect.Parameter.empty


class _PyroBase:
    """Connection, dispatch and cleanup; the operation methods are added from OPERATIONS below."""

    def __init__(
        self,
        bin: str | os.PathLike[str] | None = None,
        *,
        request_timeout: float | None = None,
        startup_timeout: float = 60.0,
        cleanup: bool = True,
        cleanup_timeout: float = 300.0,
        env: dict[str, str] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        """Start ``pyro mcp serve`` and initialize the MCP session.

        bin: the pyro executable (default: ``$PYRO_BIN``, else ``pyro`` on PATH).
        request_timeout: seconds to wait for any one call (None: no limit). A call past it is
            cancelled and raises PyroError("CANCELLED").
        cleanup: whether close() (and leaving ``with Pyro() as pyro:``) deletes the workspaces
            and VMs created through this object that still exist.
        env: the server's environment (default: this process's).
        """
        self.bin = locate_pyro(bin)
        self.request_timeout = request_timeout
        self.cleanup = cleanup
        self.cleanup_timeout = cleanup_timeout
        self._created: dict[str, dict[str, None]] = {key: {} for key in _DELETERS}
        self._env = env
        try:
            self._session = McpSession(
                [self.bin, "mcp", "serve"], env=env, max_message_bytes=max_message_bytes
            )
        except OSError as error:
            raise PyroError(
                "HOST_TOOL_MISSING", f"could not start {self.bin}: {error}", INSTALL_HINT
            ) from None
        try:
            init = self._session.request(
                "initialize",
                {
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "pyro-mcp-python", "version": MIN_PYRO_VERSION},
                },
                timeout=startup_timeout,
                label="initialize",
            )
        except PyroError as error:
            self._session.close(grace_seconds=1.0)
            raise PyroError(
                "HOST_TOOL_MISSING",
                f"{self.bin} did not start an MCP server with `pyro mcp serve`: {error.message}",
                INSTALL_HINT,
            ) from None
        except BaseException:
            self._session.close(grace_seconds=1.0)
            raise
        server = init.get("serverInfo") if isinstance(init.get("serverInfo"), dict) else {}
        self.server_version = str(server.get("version", "unknown"))
        try:
            check_version(self.server_version, self.bin)
        except PyroError:
            self._session.close(grace_seconds=1.0)
            raise
        self._session.notify("notifications/initialized", {})

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Pyro":
        return self  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete what this object created and still exists (if ``cleanup``), stop the server.

        Creations that were interrupted or timed out are awaited (up to ``cleanup_timeout``) so
        that what they made is deleted too, not left running untracked.
        """
        session = self._session
        if not session.alive:
            return
        deadline = time.monotonic() + self.cleanup_timeout
        saved_timeout = self.request_timeout
        try:
            if self.cleanup:
                session.settle_adopted(deadline)
                for key, method in _DELETERS.items():
                    for ident in list(self._created[key]):
                        # Deletes get the cleanup budget, not the (maybe short) request_timeout.
                        self.request_timeout = max(1.0, deadline - time.monotonic())
                        try:
                            getattr(self, method)(ident)
                        except PyroError as error:
                            if not error.code.endswith("_NOT_FOUND"):
                                raise
                        self._created[key].pop(ident, None)
        finally:
            self.request_timeout = saved_timeout
            session.close()

    @property
    def created(self) -> dict[str, list[str]]:
        """Ids this object created that it has not seen deleted: {"workspace_id": [...], ...}."""
        return {key: list(ids) for key, ids in self._created.items()}

    # --- dispatch ------------------------------------------------------------------------------

    def _call(self, name: str, op: Op, bound: dict[str, Any]) -> dict[str, Any]:
        arguments = {
            key: os.fspath(value) if isinstance(value, os.PathLike) else value
            for key, value in bound.items()
            if value is not None
        }
        if op.tool in WAITS_FOR_THE_END and "wait_seconds" not in arguments:
            # The server answers MCP clients after 50 s by default, under their 60 s timeout; this
            # SDK has none (request_timeout aside), so it waits for the end like the TS SDK.
            arguments["wait_seconds"] = MAX_WAIT_SECONDS
        if op.tool is None:
            return self._call_cli(name, op, arguments)
        adopt = None
        if op.creates is not None and self.cleanup:
            adopt = self._adopter(op.creates)
        try:
            result = self._session.request(
                "tools/call",
                {"name": op.tool, "arguments": arguments},
                timeout=self.request_timeout,
                adopt=adopt,
                label=f"{name}()",
            )
        except PyroError as error:
            raise self._missing_tool(name, op, error) from None
        if result.get("isError"):
            raise self._tool_error(name, op, result)
        payload = result.get("structuredContent")
        if not isinstance(payload, dict):
            raise PyroError(
                "PROTOCOL_ERROR",
                f"{op.tool} answered without structured content",
                "This pyro is not compatible with the Python SDK; check `pyro --version`.",
            )
        self._track(op, payload)
        return payload

    def _adopter(self, key: str) -> Any:
        def adopt(result: dict[str, Any]) -> None:
            payload = result.get("structuredContent")
            if not result.get("isError") and isinstance(payload, dict):
                ident = payload.get(key)
                if isinstance(ident, str):
                    self._created[key][ident] = None

        return adopt

    def _track(self, op: Op, payload: dict[str, Any]) -> None:
        if op.creates is not None and isinstance(payload.get(op.creates), str):
            self._created[op.creates][payload[op.creates]] = None
        if payload.get("deleted") is True:
            for key, ids in self._created.items():
                if isinstance(payload.get(key), str):
                    ids.pop(payload[key], None)

    def _tool_error(self, name: str, op: Op, result: dict[str, Any]) -> PyroError:
        texts = [
            item.get("text", "")
            for item in result.get("content", [])
            if isinstance(item, dict) and item.get("type") == "text"
        ]
        for text in texts:
            try:
                parsed = json.loads(text)
            except (TypeError, ValueError):
                continue
            error = parsed.get("error") if isinstance(parsed, dict) else None
            if isinstance(error, dict) and isinstance(error.get("code"), str):
                return PyroError(
                    error["code"],
                    str(error.get("message", "")),
                    self._python_hint(name, error.get("hint")),
                    error.get("details") if isinstance(error.get("details"), dict) else None,
                )
        text = "\n".join(texts)
        code, _, message = text.partition(": ")
        if code.isupper() and code.replace("_", "").isalpha():
            message, _, hint = message.partition("\nhint: ")
            return PyroError(code, message, self._python_hint(name, hint or None))
        return PyroError("INTERNAL", text or f"{op.tool} failed without a message")

    def _missing_tool(self, name: str, op: Op, error: PyroError) -> PyroError:
        """An older pyro answers an unknown tool with JSON-RPC error -32602 "Tool ... not found"."""
        details = error.details or {}
        message = str(details.get("jsonrpc_message", ""))
        if details.get("jsonrpc_code") != -32602 or not re.search(r"Tool \S+ not found", message):
            return error
        return PyroError(
            "HOST_TOOL_MISSING",
            f"pyro {self.server_version} at {self.bin} has no {op.tool} tool, which {name}() needs",
            "Install a newer pyro: " + INSTALL_HINT,
        )

    @staticmethod
    def _python_hint(name: str, hint: Any) -> str | None:
        if not isinstance(hint, str):
            return None
        # Tool-shaped pointers become the Python method's; field names are the same snake_case.
        hint = re.sub(r"See the inputSchema of the \S+ tool\.", f"See help(Pyro.{name}).", hint)
        return re.sub(r"`([a-z_]+)(?: (\{[^`]*\}))?`", _python_call, hint)

    def _call_cli(self, name: str, op: Op, arguments: dict[str, Any]) -> dict[str, Any]:
        argv = [self.bin, *(op.cli or ()), *(str(arguments.pop(a)) for a in op.args), "--json"]
        for key, value in arguments.items():
            flag = "--" + key.replace("_", "-")
            argv += [flag] if value is True else [] if value is False else [flag, str(value)]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                env=self._env,
                timeout=self.request_timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise PyroError(
                "CANCELLED",
                f"{name}() did not finish within {self.request_timeout:g} s and was stopped",
                "Give the Pyro a larger request_timeout (or None).",
            ) from None
        for stream in (done.stdout, done.stderr):
            try:
                payload = json.loads(stream)
            except ValueError:
                continue
            if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
                error = payload["error"]
                return self._raise_cli_error(error)
            if isinstance(payload, dict) and done.returncode == 0:
                return payload
        raise PyroError(
            "PROTOCOL_ERROR",
            f"`{' '.join(argv)}` exited with status {done.returncode} without a JSON answer: "
            + done.stderr.decode("utf-8", "replace").strip()[-2000:],
            "Check that this pyro works: `pyro doctor`.",
        )

    @staticmethod
    def _raise_cli_error(error: dict[str, Any]) -> dict[str, Any]:
        raise PyroError(
            str(error.get("code", "INTERNAL")),
            str(error.get("message", "")),
            error.get("hint") if isinstance(error.get("hint"), str) else None,
            error.get("details") if isinstance(error.get("details"), dict) else None,
        )


_METHOD_OF_TOOL = {op.tool: (name, op) for name, op in OPERATIONS.items() if op.tool}


def _python_call(match: "re.Match[str]") -> str:
    """A tool call named in a hint (`workspace_reset {"workspace_id":"ID"}`) as the method call."""
    found = _METHOD_OF_TOOL.get(match.group(1))
    if found is None:
        return match.group(0)
    method, op = found
    try:
        given = json.loads(match.group(2)) if match.group(2) else {}
    except ValueError:
        return match.group(0)
    if not isinstance(given, dict):
        return match.group(0)
    args = [json.dumps(given.pop(a)) for a in op.args if a in given]
    args += [f"{python_name(k)}={json.dumps(v)}" for k, v in given.items()]
    return f"`{method}({', '.join(args)})`"


#: Tools that return `state: "running"` after `wait_seconds`; the server's longest wait.
WAITS_FOR_THE_END = ("workspace_exec", "vm_run")
MAX_WAIT_SECONDS = 3600


def python_name(field: str) -> str:
    """A field whose name is a Python keyword (``from``) is spelled with a trailing underscore."""
    return f"{field}_" if keyword.iskeyword(field) else field


def _make_method(name: str, op: Op) -> Any:
    result_type = getattr(result_types, _result_type_name(name), dict[str, Any])
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    parameters += [
        inspect.Parameter(python_name(a), inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in op.args
    ]
    parameters += [
        inspect.Parameter(python_name(o), inspect.Parameter.KEYWORD_ONLY, default=None)
        for o in op.options
    ]
    signature = inspect.Signature(parameters, return_annotation=result_type)

    def method(self: _PyroBase, /, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as error:
            accepted = ", ".join(python_name(f) for f in (*op.args, *op.options)) or "no arguments"
            raise PyroError(
                "INVALID_ARGUMENT",
                f"{name}(): {error}",
                f"Accepted: {accepted}. See help(Pyro.{name}).",
            ) from None
        arguments = {
            field: bound.arguments[python_name(field)]
            for field in (*op.args, *op.options)
            if python_name(field) in bound.arguments
        }
        return self._call(name, op, arguments)

    method.__name__ = name
    method.__qualname__ = f"Pyro.{name}"
    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__annotations__ = {"return": result_type}
    via = f"the MCP tool ``{op.tool}``" if op.tool else f"``pyro {' '.join(op.cli or ())} --json``"
    method.__doc__ = (
        f"Call {via} and return its payload ({getattr(result_type, '__name__', 'dict')}).\n\n"
        "Keyword options left as None take the server's defaults; see docs/python-sdk.md and\n"
        "docs/public-contract.md for each field. Failures raise PyroError."
    )
    return method


def _result_type_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Result"


class Pyro(_PyroBase):
    """The pyro Python SDK: the original's method names and keyword arguments, one MCP server.

        with Pyro() as pyro:
            ws = pyro.create_workspace(environment="debian:12", seed_path="examples/seed")
            pyro.exec_workspace(ws["workspace_id"], command="sh check.sh")

    Every method returns the JSON payload as a dict (typed by pyro_mcp.types) and raises
    PyroError(code, message, hint) on failure.
    """


for _name, _op in OPERATIONS.items():
    setattr(Pyro, _name, _make_method(_name, _op))
