"""Python SDK behaviour that needs no guest: finding pyro, refusing old or broken servers, bounded
reading, errors of the real server named the Python way, the method table's signatures."""

import ast
import inspect
import os
import tempfile
import time
import tracemalloc
import unittest
from typing import Any
from pathlib import Path

import pyro_mcp.client
from pyro_mcp.client import python_name
import support
from pyro_mcp import OPERATIONS, Pyro, PyroError
from pyro_mcp.operations import Op

support.use_checkout_pyro()


class FindingPyro(unittest.TestCase):
    def test_missing_pyro_says_how_to_install(self) -> None:
        saved = {k: os.environ.pop(k, None) for k in ("PYRO_BIN", "PATH")}
        try:
            os.environ["PATH"] = tempfile.mkdtemp()
            with self.assertRaises(PyroError) as caught:
                Pyro()
        finally:
            for key, value in saved.items():
                if value is not None:
                    os.environ[key] = value
        self.assertEqual(caught.exception.code, "HOST_TOOL_MISSING")
        self.assertIn("not found on PATH", caught.exception.message)
        self.assertIn("npm install -g pyro-mcp", caught.exception.hint)

    def test_pyro_found_on_path(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            os.symlink(support.CLI, os.path.join(tmp, "pyro"))
            saved = {k: os.environ.pop(k, None) for k in ("PYRO_BIN", "PATH")}
            os.environ["PATH"] = tmp + os.pathsep + (saved["PATH"] or "")
            try:
                with Pyro() as pyro:
                    self.assertEqual(pyro.bin, os.path.join(tmp, "pyro"))
                    self.assertEqual(pyro.server_version, "2.8.0")
            finally:
                for key, value in saved.items():
                    if value is not None:
                        os.environ[key] = value

    def test_bin_that_is_not_executable(self) -> None:
        with self.assertRaises(PyroError) as caught:
            Pyro(bin="/nonexistent/pyro")
        self.assertEqual(caught.exception.code, "HOST_TOOL_MISSING")
        self.assertIn("bin= (/nonexistent/pyro)", caught.exception.message)
        self.assertIn("PYRO_BIN", caught.exception.hint)

    def test_too_old_pyro_is_refused_and_stopped(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(PyroError) as caught:
                Pyro(bin=support.fake_pyro(tmp, "old"))
        self.assertEqual(caught.exception.code, "HOST_TOOL_MISSING")
        self.assertIn("pyro 2.7.0", caught.exception.message)
        self.assertIn("needs pyro 2.8.0 or later", caught.exception.message)
        self.assertIn("npm install -g pyro-mcp", caught.exception.hint)

    def test_pyro_without_mcp_serve(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(PyroError) as caught:
                Pyro(bin=support.fake_pyro(tmp, "exit"))
        self.assertEqual(caught.exception.code, "HOST_TOOL_MISSING")
        self.assertIn("did not start an MCP server", caught.exception.message)
        self.assertIn("unknown command 'mcp'", caught.exception.message)


class HintsInPythonTerms(unittest.TestCase):
    def test_tool_calls_in_hints_become_method_calls(self) -> None:
        hint = pyro_mcp.client.Pyro._python_hint(
            "exec_workspace",
            'Try `workspace_reset {"workspace_id":"ID","snapshot":"NAME"}`, or `pyro doctor`.',
        )
        self.assertEqual(hint, 'Try `reset_workspace("ID", snapshot="NAME")`, or `pyro doctor`.')


class LongCommands(unittest.TestCase):
    def test_exec_and_run_wait_for_the_end_unless_told_otherwise(self) -> None:
        # The server answers MCP clients after 50 s by default (their own timeout is 60 s); this
        # SDK has no such timeout, so like the TypeScript SDK it waits for the command's end.
        with tempfile.TemporaryDirectory() as tmp:
            with Pyro(bin=support.fake_pyro(tmp, "echo")) as pyro:
                sent: Any = pyro.exec_workspace("ws", command="make test")
                self.assertEqual(sent["arguments"]["wait_seconds"], 3600)
                sent = pyro.run_in_vm(environment="debian:12", command="true")
                self.assertEqual(sent["arguments"]["wait_seconds"], 3600)
                sent = pyro.exec_workspace("ws", command="make test", wait_seconds=5)
                self.assertEqual(sent["arguments"]["wait_seconds"], 5)
                sent = pyro.status_workspace("ws")
                self.assertNotIn("wait_seconds", sent["arguments"])


class BoundedReading(unittest.TestCase):
    def test_endless_line_ends_the_session_without_growing_memory(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            pyro = Pyro(bin=support.fake_pyro(tmp, "flood"), max_message_bytes=1 << 20)
            pid = pyro._session.pid
            tracemalloc.start()
            try:
                with self.assertRaises(PyroError) as caught:
                    pyro.list_environments()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
                pyro.close()
        self.assertEqual(caught.exception.code, "PROTOCOL_ERROR")
        self.assertIn("over 1048576 bytes", caught.exception.message)
        self.assertLess(peak, 4 << 20)
        deadline = time.monotonic() + 10
        while support.process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertFalse(support.process_alive(pid), "the flooding server was left running")


class RealServerWithoutGuests(unittest.TestCase):
    pyro: Pyro

    @classmethod
    def setUpClass(cls) -> None:
        cls.pyro = Pyro()

    @classmethod
    def tearDownClass(cls) -> None:
        pid = cls.pyro._session.pid
        cls.pyro.close()
        assert not support.process_alive(pid)

    def test_reports_the_server_version(self) -> None:
        self.assertEqual(self.pyro.server_version, "2.8.0")

    def test_tool_error_carries_code_message_hint(self) -> None:
        with self.assertRaises(PyroError) as caught:
            self.pyro.status_workspace("0123456789ab")
        self.assertEqual(caught.exception.code, "WORKSPACE_NOT_FOUND")
        self.assertIn("0123456789ab", caught.exception.message)
        # Hints name the Python method, not a CLI command or an MCP tool.
        self.assertIn("`list_workspaces()`", caught.exception.hint)
        self.assertNotIn("pyro workspace", caught.exception.hint)
        self.assertNotIn("workspace_list", caught.exception.hint)

    def test_bad_value_names_the_keyword(self) -> None:
        with self.assertRaises(PyroError) as caught:
            self.pyro.create_workspace(environment="debian:12", mem_mib=1)
        self.assertEqual(caught.exception.code, "INVALID_ARGUMENT")
        self.assertIn("mem_mib must be a whole number from 256", caught.exception.message)
        self.assertEqual(caught.exception.hint, "See help(Pyro.create_workspace).")

    def test_unknown_keyword_is_invalid_argument(self) -> None:
        with self.assertRaises(PyroError) as caught:
            self.pyro.exec_workspace("0123456789ab", command="true", memMib=512)
        self.assertEqual(caught.exception.code, "INVALID_ARGUMENT")
        self.assertIn("'memMib'", caught.exception.message)
        self.assertIn("Accepted: workspace_id, command, timeout_seconds", caught.exception.hint)

    def test_missing_positional_is_invalid_argument(self) -> None:
        with self.assertRaises(PyroError) as caught:
            self.pyro.create_snapshot("0123456789ab")
        self.assertEqual(caught.exception.code, "INVALID_ARGUMENT")
        self.assertIn("snapshot_name", caught.exception.message)

    def test_cli_backed_operation(self) -> None:
        self.assertEqual(self.pyro.inspect_environment("debian:12")["name"], "debian:12")
        with self.assertRaises(PyroError) as caught:
            self.pyro.inspect_environment("debian:99")
        self.assertEqual(caught.exception.code, "UNKNOWN_ENVIRONMENT")
        self.assertIn("debian:12-base", caught.exception.hint)

    def test_tool_missing_from_this_pyro(self) -> None:
        with self.assertRaises(PyroError) as caught:
            self.pyro._call("summarize_workspace", Op("workspace_no_such_tool"), {})
        self.assertEqual(caught.exception.code, "HOST_TOOL_MISSING")
        self.assertIn("has no workspace_no_such_tool tool", caught.exception.message)
        self.assertIn("newer pyro", caught.exception.hint)
        # The session is still usable after the refusal.
        self.assertIn("environments", self.pyro.list_environments())


class MethodTable(unittest.TestCase):
    def test_signatures_follow_the_table(self) -> None:
        for name, op in OPERATIONS.items():
            params = list(inspect.signature(getattr(Pyro, name)).parameters.values())[1:]
            positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
            keywords = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
            expected = (
                tuple(python_name(a) for a in op.args),
                tuple(python_name(o) for o in op.options),
            )
            self.assertEqual((tuple(positional), tuple(keywords)), expected, name)

    def test_type_stub_names_the_runtime_parameters(self) -> None:
        stub = ast.parse(Path(pyro_mcp.client.__file__).with_suffix(".pyi").read_text())
        klass = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "Pyro")
        stubbed = {
            f.name: [a.arg for a in [*f.args.args, *f.args.kwonlyargs]][1:]
            for f in klass.body
            if isinstance(f, ast.FunctionDef) and not f.name.startswith("__") or
            isinstance(f, ast.FunctionDef) and f.name == "__init__"
        }
        for name in [*OPERATIONS, "__init__", "close"]:
            runtime = list(inspect.signature(getattr(Pyro, name)).parameters)[1:]
            self.assertEqual(stubbed.pop(name), runtime, name)
        self.assertEqual(list(stubbed), ["created"])

    def test_results_are_typed(self) -> None:
        hint = inspect.signature(Pyro.exec_workspace).return_annotation
        self.assertEqual(hint.__name__, "ExecWorkspaceResult")
        self.assertIn("exit_code", hint.__annotations__)


if __name__ == "__main__":
    unittest.main()
