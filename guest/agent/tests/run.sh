#!/bin/sh
# Unit tests (ASan/UBSan) and end-to-end tests for pyro-agent.
# Usage: sh guest/agent/tests/run.sh   (from anywhere)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
agent_dir=$(dirname "$here")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

san="-std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all"

echo "== unit (json, frame, flow, setup, fstool)"
gcc $san -o "$tmp/unit" "$here/unit.c" "$agent_dir/json.c" "$agent_dir/frame.c" "$agent_dir/flow.c" "$agent_dir/setup.c" "$agent_dir/fstool.c"
"$tmp/unit" "$here/golden"

echo "== build: musl-gcc -static (the release command)"
musl-gcc -static -Os -Wall -Wextra -Werror -o "$tmp/pyro-agent" "$agent_dir"/*.c

echo "== e2e against the ASan/UBSan build"
gcc $san -o "$tmp/pyro-agent-asan" "$agent_dir"/*.c
python3 "$here/e2e.py" "$tmp/pyro-agent-asan"

echo "== e2e against the static musl build"
python3 "$here/e2e.py" "$tmp/pyro-agent"

echo "all agent tests passed"
