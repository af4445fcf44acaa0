#!/bin/sh
# Pack the npm package, install the tarball into an empty project, and use it as a user would.
# Fails if anything the package needs at run time (agent binary, guest init, compiled code) is
# missing from the tarball.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "[dist-check] packed $tarball"
for required in package/dist/src/cli/main.js package/dist/src/index.js package/dist/src/index.d.ts \
  package/dist/src/supervisor/main.js package/build/agent/pyro-agent package/guest/init/init.sh; do
  tar -tzf "$work/$tarball" | grep -qx "$required" || { echo "[dist-check] missing from package: $required" >&2; exit 1; }
done
mkdir "$work/app"
cd "$work/app"
npm init -y > /dev/null
npm install --no-audit --no-fund --silent "$work/$tarball"
echo "[dist-check] pyro --version: $(npx --no-install pyro --version)"
npx --no-install pyro --help | grep -q "pyro run debian:12 -- git --version"
npx --no-install pyro env list | grep -q "^debian:12 "
node --input-type=module -e '
  import { Pyro, VERSION, OPERATIONS } from "pyro-mcp";
  const pyro = new Pyro();
  const envs = await pyro.listEnvironments();
  if (VERSION !== "2.8.0" || !envs.environments.some((e) => e.name === "debian:12")) process.exit(1);
  if (typeof pyro.createServer !== "function" || !Object.values(OPERATIONS).some((op) => op.mcp?.tool === "workspace_reset")) process.exit(1);
  console.log("[dist-check] SDK import ok:", envs.environments.length, "environments");
'

# The Python SDK: build its wheel offline with Debian's setuptools, install it into a fresh venv
# (no network, no checkout on sys.path) and run the example against the pyro installed above.
cp -r "$repo/python" "$work/python-src"
rm -rf "$work/python-src/tests"
/usr/bin/python3 -m pip wheel --quiet --no-deps --no-build-isolation --no-index \
  --wheel-dir "$work/wheels" "$work/python-src"
wheel=$(ls "$work"/wheels/pyro_mcp-*.whl)
echo "[dist-check] built $(basename "$wheel")"
/usr/bin/python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --no-index --no-deps "$wheel"
cd "$work"
PYTHONPATH= "$work/venv/bin/python" -c '
import pyro_mcp, sys
assert pyro_mcp.__file__.startswith(sys.prefix), pyro_mcp.__file__
print("[dist-check] Python SDK import ok:", pyro_mcp.__version__, len(pyro_mcp.OPERATIONS), "methods")
'
PYTHONPATH= PYRO_BIN="$work/app/node_modules/.bin/pyro" "$work/venv/bin/python" \
  "$repo/examples/python_workspace.py" | tee "$work/example.out"
grep -q "after reset to baseline, changed since baseline: False" "$work/example.out"
echo "[dist-check] ok"
