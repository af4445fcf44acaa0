#!/bin/sh
# Build the static guest agent with musl (so it runs on any distribution's image).
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/agent
CC=${MUSL_CC:-musl-gcc}
command -v "$CC" >/dev/null || { echo "error: $CC not found; install musl-tools (make setup)" >&2; exit 1; }
$CC -static -Os -Wall -Wextra -Werror -o build/agent/pyro-agent.tmp guest/agent/*.c
strip build/agent/pyro-agent.tmp 2>/dev/null || true
mv build/agent/pyro-agent.tmp build/agent/pyro-agent
