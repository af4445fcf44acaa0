"""Finding the ``pyro`` executable and judging its version."""

import os
import shutil

from .errors import PyroError

#: The oldest pyro whose MCP server this SDK speaks to (the release with named snapshots and reset).
MIN_PYRO_VERSION = "2.8.0"

INSTALL_HINT = (
    "Install pyro (Node.js 20 or later): `npm install -g pyro-mcp`, or from a checkout "
    "`make build && npm link`; then make `pyro` reachable on PATH, set PYRO_BIN to its path, "
    "or pass Pyro(bin=...)."
)


def locate_pyro(bin: str | os.PathLike[str] | None) -> str:
    """The pyro executable: ``bin`` if given, else ``$PYRO_BIN``, else ``pyro`` on ``PATH``."""
    if bin is not None:
        chosen, source = os.fspath(bin), "bin="
    elif os.environ.get("PYRO_BIN"):
        chosen, source = os.environ["PYRO_BIN"], "PYRO_BIN"
    else:
        found = shutil.which("pyro")
        if found is None:
            raise PyroError("HOST_TOOL_MISSING", "the pyro CLI was not found on PATH", INSTALL_HINT)
        return found
    resolved = shutil.which(chosen) if os.sep not in chosen else chosen
    if resolved is None or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        raise PyroError(
            "HOST_TOOL_MISSING",
            f"the pyro CLI given by {source} ({chosen}) is not an executable file",
            INSTALL_HINT,
        )
    return resolved


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"2.8.0"`` (or ``"2.8.0-rc.1"``) as a comparable triple; None if it is not a version."""
    core = text.strip().split("-", 1)[0].split("+", 1)[0]
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return (int(parts[0]), int(parts[1]), int(parts[2]))


def check_version(version: str, path: str) -> None:
    """Refuse a pyro older than MIN_PYRO_VERSION, saying how to get a newer one."""
    found = parse_version(version)
    minimum = parse_version(MIN_PYRO_VERSION)
    if found is None or minimum is None or found < minimum:
        raise PyroError(
            "HOST_TOOL_MISSING",
            f"pyro {version} at {path} is too old: the Python SDK needs pyro {MIN_PYRO_VERSION} "
            "or later",
            INSTALL_HINT,
        )
