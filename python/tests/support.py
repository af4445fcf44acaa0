"""Shared helpers of the Python SDK tests: the pyro under test and a private state directory."""

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "dist" / "src" / "cli" / "main.js"


def use_checkout_pyro() -> None:
    """Point the SDK at the built CLI of this checkout unless PYRO_BIN says otherwise, and keep
    state in a private directory (vitest's global setup already gives one)."""
    os.environ.setdefault("PYRO_BIN", str(CLI))
    if "PYRO_STATE_DIR" not in os.environ:
        os.environ["PYRO_STATE_DIR"] = tempfile.mkdtemp(prefix="pyro-pytest-")


def fake_pyro(directory: str, mode: str) -> str:
    """An executable that runs fake_pyro.py in ``mode``."""
    path = Path(directory) / f"pyro-{mode}"
    script = Path(__file__).with_name("fake_pyro.py")
    path.write_text(f'#!/bin/sh\nFAKE_PYRO_MODE={mode} exec {sys.executable} {script} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def qemu_count() -> int:
    """QEMU processes of this test run's state directory."""
    done = subprocess.run(["pgrep", "-af", "qemu-system"], capture_output=True, text=True)
    needle = os.environ["PYRO_STATE_DIR"]
    return sum(1 for line in done.stdout.splitlines() if needle in line and "pgrep" not in line)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
