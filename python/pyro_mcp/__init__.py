"""pyro for Python: disposable Linux workspaces in microVMs, driven through ``pyro mcp serve``.

    from pyro_mcp import Pyro

    with Pyro() as pyro:
        print(pyro.run_in_vm(environment="debian:12", command="git --version")["stdout"])
"""

from ._locate import MIN_PYRO_VERSION
from .client import Pyro
from .errors import PyroError
from .operations import OPERATIONS

__version__ = "2.8.0"

__all__ = ["MIN_PYRO_VERSION", "OPERATIONS", "Pyro", "PyroError", "__version__"]
