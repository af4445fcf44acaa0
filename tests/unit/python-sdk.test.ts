import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OPERATIONS } from "../../src/operations/index.js";
import { snake } from "../../src/operations/define.js";
import {
  PYTHON_STUB_PATH,
  PYTHON_TYPES_PATH,
  renderPythonStub,
  renderPythonTypes,
} from "../../scripts/gen-python-types.js";
import { command } from "../support/cli.js";
import { REPO_ROOT } from "../support/paths.js";
import { PYTHON, PYTHON_ENV } from "../support/python.js";

interface PythonOp {
  tool: string | null;
  args: string[];
  options: string[];
  cli: string[] | null;
}

interface PythonTable {
  version: string;
  methods: string[];
  operations: Record<string, PythonOp>;
}

async function pythonTable(): Promise<PythonTable> {
  const script = [
    "import json, pyro_mcp",
    "from pyro_mcp import Pyro, OPERATIONS",
    "methods = [n for n in dir(Pyro) if not n.startswith('_') and callable(getattr(Pyro, n))]",
    "ops = {n: {'tool': o.tool, 'args': o.args, 'options': o.options, 'cli': o.cli} for n, o in OPERATIONS.items()}",
    "print(json.dumps({'version': pyro_mcp.__version__, 'methods': methods, 'operations': ops}))",
  ].join("\n");
  const result = await command(PYTHON, ["-c", script], {
    env: PYTHON_ENV,
  });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as PythonTable;
}

const FIX = "add its line to python/pyro_mcp/operations.py (see docs/python-sdk.md)";

describe("python sdk", () => {
  it("python sdk: one Pyro method per declared operation, calling its MCP tool with its fields", async () => {
    const table = await pythonTable();
    const expected = Object.keys(OPERATIONS).map(snake);
    expect(Object.keys(table.operations).sort(), FIX).toEqual([...expected].sort());
    expect(table.methods.sort(), "Pyro methods").toEqual([...expected, "close"].sort());
    for (const [sdk, op] of Object.entries(OPERATIONS)) {
      const py = table.operations[snake(sdk)]!;
      const where = `${snake(sdk)} in python/pyro_mcp/operations.py`;
      expect(py.tool, where).toBe(op.mcp?.tool ?? null);
      // Operations without an MCP tool go through the CLI's --json output.
      expect(py.cli, where).toEqual(op.mcp ? null : op.cli!.path);
      expect(py.args, where).toEqual([...op.sdkArgs]);
      const options = Object.keys(op.input.shape).filter(
        (f) => !(op.sdkArgs as readonly string[]).includes(f),
      );
      expect([...py.options].sort(), where).toEqual(options.sort());
    }
  });

  it("python sdk: types.py and client.pyi match the declarations (run npm run gen:python)", () => {
    expect(readFileSync(PYTHON_TYPES_PATH, "utf8")).toBe(renderPythonTypes());
    expect(readFileSync(PYTHON_STUB_PATH, "utf8")).toBe(renderPythonStub());
  });

  it("python sdk: the package and the example pass mypy --strict (the hints are usable)", async () => {
    const result = await command(
      PYTHON,
      [
        "-m",
        "mypy",
        "--strict",
        "--cache-dir",
        "/dev/null",
        "examples/python_workspace.py",
        "python/pyro_mcp",
      ],
      { cwd: REPO_ROOT, env: { MYPYPATH: path.join(REPO_ROOT, "python") } },
    );
    expect(result.stdout + result.stderr, "install Debian's mypy: make setup").toMatch(
      /^Success: no issues found/m,
    );
    expect(result.status).toBe(0);
  });

  it("python sdk: the package version is pyro's", async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
      version: string;
    };
    expect((await pythonTable()).version).toBe(version);
    const pyproject = readFileSync(path.join(REPO_ROOT, "python", "pyproject.toml"), "utf8");
    expect(pyproject).toContain(`version = "${version}"`);
  });
});
