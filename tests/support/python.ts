import path from "node:path";
import { CLI, REPO_ROOT } from "./paths.js";

/** Debian's Python 3.11, as the Python SDK's users on Debian 12 have it (not a pyenv shim). */
export const PYTHON = "/usr/bin/python3";

/** Environment for running the checkout's Python SDK against the built CLI's MCP server. */
export const PYTHON_ENV = {
  PYTHONPATH: path.join(REPO_ROOT, "python"),
  PYRO_BIN: CLI,
  PYTHONDONTWRITEBYTECODE: "1",
};
