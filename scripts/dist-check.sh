#!/bin/sh
# Pack the npm package, install the tarball into an empty project, and use it as a user would.
# Fails if anything the package needs at run time (agent binary, guest init, compiled code) is
# missing from the tarball.
set -eu
cd "$(dirname "$0")/.."
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
echo "[dist-check] ok"
