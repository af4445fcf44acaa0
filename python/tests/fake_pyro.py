"""A stand-in for pyro versions and broken servers that cannot run here (an old release, a
server that floods its output). Behaviour is chosen by FAKE_PYRO_MODE:

old     answers initialize as pyro 2.7.0
flood   answers initialize as 2.8.0, then answers any request with an endless line (no newline)
exit    prints a complaint and exits 1 (like a pyro without `mcp serve`)
echo    answers initialize as 2.8.0, then answers tools/call with the arguments it received
"""

import json
import os
import sys

mode = os.environ.get("FAKE_PYRO_MODE", "old")
if mode == "exit":
    print("error: unknown command 'mcp'", file=sys.stderr)
    sys.exit(1)
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    if message["method"] == "initialize":
        version = "2.7.0" if mode == "old" else "2.8.0"
        result = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "pyro", "version": version}}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
        sys.stdout.flush()
    elif mode == "echo" and message["method"] == "tools/call":
        params = message["params"]
        result = {"content": [], "structuredContent": {"tool": params["name"], "arguments": params["arguments"]}}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
        sys.stdout.flush()
    elif mode == "flood":
        chunk = "x" * 65536
        try:
            while True:
                sys.stdout.write(chunk)
                sys.stdout.flush()
        except BrokenPipeError:
            sys.exit(0)
