"""The Python SDK against real microVMs (debian:12), through the package and `pyro mcp serve`.

One workspace is shared by the cases of the class; the cancellation and cleanup cases use their
own Pyro objects so their servers and creations are judged alone.
"""

import signal
import tempfile
import threading
import time
import unittest
from pathlib import Path

import support
from pyro_mcp import Pyro, PyroError

support.use_checkout_pyro()
SEED = support.REPO / "examples" / "seed"


def wait_until(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


class Workspace(unittest.TestCase):
    pyro: Pyro
    workspace_id: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.pyro = Pyro()
        created = cls.pyro.create_workspace(environment="debian:12", seed_path=SEED)
        cls.workspace_id = created["workspace_id"]
        assert cls.pyro.created == {"workspace_id": [cls.workspace_id], "vm_id": []}

    @classmethod
    def tearDownClass(cls) -> None:
        cls.pyro.close()
        # The context manager's cleanup deleted the shared workspace.
        with Pyro() as other:
            with self_raises(PyroError) as caught:
                other.status_workspace(cls.workspace_id)
            assert caught[0].code == "WORKSPACE_NOT_FOUND", caught

    def test_seed_exec_diff_export(self) -> None:
        ran = self.pyro.exec_workspace(self.workspace_id, command="sh check.sh; echo extra >> README.md")
        self.assertEqual((ran["exit_code"], ran["stdout"]), (0, "tests passed\n"))
        diff = self.pyro.diff_workspace(self.workspace_id)
        self.assertTrue(diff["changed"])
        self.assertIn(("modified", "README.md"), [(e["status"], e["path"]) for e in diff["entries"]])
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "README.md"
            exported = self.pyro.export_workspace(self.workspace_id, "README.md", output_path=out)
            self.assertEqual(exported["output_path"], str(out))
            self.assertTrue(out.read_text().endswith("extra\n"))

    def test_guest_error_is_pyro_error(self) -> None:
        with self.assertRaises(PyroError) as caught:
            self.pyro.export_workspace(self.workspace_id, "../etc/passwd", output_path="/tmp/x-pyro")
        self.assertEqual(caught.exception.code, "UNSAFE_PATH")
        with self.assertRaises(PyroError) as caught:
            self.pyro.reset_workspace(self.workspace_id, snapshot="no-such-snapshot")
        self.assertEqual(caught.exception.code, "SNAPSHOT_NOT_FOUND")

    def test_request_timeout_cancels_and_the_session_goes_on(self) -> None:
        with Pyro(request_timeout=2, cleanup=False) as impatient:
            started = time.monotonic()
            with self.assertRaises(PyroError) as caught:
                impatient.exec_workspace(self.workspace_id, command="sleep 4", timeout_seconds=10)
            self.assertLess(time.monotonic() - started, 4)
            self.assertEqual(caught.exception.code, "CANCELLED")
            self.assertIn("exec_workspace() did not answer within 2 s", caught.exception.message)
            self.assertIn("request_timeout", caught.exception.hint)
            # The late answer is dropped; the next call gets its own.
            self.assertIn("environments", impatient.list_environments())


class self_raises:
    """assertRaises for class-level hooks, where there is no TestCase instance."""

    def __init__(self, kind: type[BaseException]) -> None:
        self.kind = kind
        self.caught: list[BaseException] = []

    def __enter__(self) -> list[BaseException]:
        return self.caught

    def __exit__(self, kind, value, tb) -> bool:
        if value is None:
            raise AssertionError(f"{self.kind.__name__} not raised")
        if isinstance(value, self.kind):
            self.caught.append(value)
            return True
        return False


class Cancellation(unittest.TestCase):
    def test_ctrl_c_cancels_run_in_vm_and_stops_its_vm(self) -> None:
        before = support.qemu_count()
        with Pyro() as pyro:
            booted = threading.Event()

            def interrupt_when_booted() -> None:
                # Interrupt once the run's VM is up, as a user pressing Ctrl-C would.
                if wait_until(lambda: support.qemu_count() > before, 90):
                    booted.set()
                time.sleep(0.5)
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

            threading.Thread(target=interrupt_when_booted, daemon=True).start()
            started = time.monotonic()
            with self.assertRaises(KeyboardInterrupt):
                pyro.run_in_vm(environment="debian:12", command="sleep 120", timeout_seconds=300)
            self.assertTrue(booted.is_set())
            self.assertLess(time.monotonic() - started, 100)
            # notifications/cancelled reached the server: the run's VM goes away...
            self.assertTrue(wait_until(lambda: support.qemu_count() == before, 30), "VM left running")
            # ...and the session serves the next call.
            self.assertIn("environments", pyro.list_environments())

    def test_interrupted_creation_is_deleted_on_close(self) -> None:
        with Pyro() as observer:
            known = {w["workspace_id"] for w in observer.list_workspaces()["workspaces"]}
            pyro = Pyro(request_timeout=0.05)
            server = pyro._session.pid
            with self.assertRaises(PyroError) as caught:
                pyro.create_workspace(environment="debian:12")
            self.assertEqual(caught.exception.code, "CANCELLED")
            pyro.close()  # waits for the creation's late answer, then deletes what it made
            self.assertFalse(support.process_alive(server), "pyro mcp serve left running")
            after = {w["workspace_id"] for w in observer.list_workspaces()["workspaces"]}
            self.assertEqual(after, known)


if __name__ == "__main__":
    unittest.main()
