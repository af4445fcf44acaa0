#!/bin/sh
# Install whatever is missing for pyro on a Debian 12 host, then build it and pull debian:12.
# Idempotent and quick when everything is present, so `make check` can always run it first.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="qemu-system-x86 qemu-utils e2fsprogs debootstrap busybox-static musl-tools cpio util-linux libjemalloc2"
# OCI images (`pyro env pull REF`): skopeo copies and verifies, umoci unpacks rootless; the tests
# run a registry on a loopback port.
PACKAGES="$PACKAGES skopeo umoci docker-registry"
# Debian's Python for the Python SDK (python/): its tests, its type check (mypy), and the offline
# wheel build and venv install of `make dist-check`.
PACKAGES="$PACKAGES python3 python3-venv python3-setuptools python3-wheel python3-pip mypy"
missing=""
for pkg in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "[setup] installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci"
  npm ci --no-audit --no-fund
fi

if [ ! -x build/agent/pyro-agent ] || [ -n "$(find guest/agent -newer build/agent/pyro-agent -name '*.[ch]' | head -n 1)" ]; then
  echo "[setup] building the guest agent"
  sh scripts/build-agent.sh
fi
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src -newer dist/src/cli/main.js -name '*.ts' | head -n 1)" ]; then
  echo "[setup] building the TypeScript"
  npm run -s build
fi

if [ "${PYRO_SKIP_PULL:-0}" != 1 ]; then
  node dist/src/cli/main.js env pull debian:12 > /dev/null
fi
echo "[setup] ready"
