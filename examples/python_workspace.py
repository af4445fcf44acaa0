"""A tour of the pyro Python SDK around reset-over-repair: seed a workspace, run commands, look at
the diff, export a file, run a service with a readiness probe, take a named snapshot, break
things, and reset (to the snapshot, then to the baseline) instead of repairing.

From a checkout (after `make build`):

    PYTHONPATH=python PYRO_BIN=dist/src/cli/main.js python3 examples/python_workspace.py

tests/guest/python-sdk.test.ts runs it that way; `make dist-check` runs it from an installed wheel.
"""

import tempfile
from pathlib import Path

from pyro_mcp import Pyro

HERE = Path(__file__).resolve().parent

with Pyro() as pyro:
    workspace = pyro.create_workspace(environment="debian:12", seed_path=HERE / "seed")
    workspace_id = workspace["workspace_id"]
    print(f"workspace {workspace_id} ({workspace['workspace_seed']['entry_count']} seeded entries)")

    # Commands run in /workspace and are journaled.
    check = pyro.exec_workspace(workspace_id, command="sh check.sh")
    print(f"check: {check['stdout'].strip()} (exit {check['exit_code']})")
    pyro.exec_workspace(
        workspace_id, command="printf 'def sub(a, b):\\n    return a - b\\n' >> calc.py"
    )

    # What changed since the seed, and a copy of it on the host.
    diff = pyro.diff_workspace(workspace_id)
    print("diff: " + ", ".join(f"{e['status']} {e['path']}" for e in diff["entries"]))
    with tempfile.TemporaryDirectory(prefix="pyro-example-") as out_dir:
        exported = Path(out_dir) / "calc.py"
        pyro.export_workspace(workspace_id, "calc.py", output_path=exported)
        print(f"exported calc.py: {len(exported.read_text().splitlines())} lines")

    # A background service, started once its readiness file exists.
    service = pyro.start_service(
        workspace_id,
        "web",
        command="touch .web-ready && while true; do sleep 60; done",
        readiness={"type": "file", "path": ".web-ready"},
    )
    services = pyro.list_services(workspace_id)
    print(
        f"service {service['service_name']}: {service['state']}; "
        f"services={services['count']} running={services['running_count']}"
    )
    status = pyro.status_service(workspace_id, "web")
    print(f"service_state={status['state']} ready={status['ready_at'] is not None}")

    # Checkpoint, break, reset to the checkpoint.
    pyro.create_snapshot(workspace_id, "with-sub")
    pyro.exec_workspace(workspace_id, command="rm calc.py check.sh")
    broken = pyro.exec_workspace(workspace_id, command="sh check.sh")
    print(f"after breaking it: exit {broken['exit_code']}")
    reset = pyro.reset_workspace(workspace_id, snapshot="with-sub")
    fixed = pyro.exec_workspace(workspace_id, command="sh check.sh && grep -c def calc.py")
    passed, defs = fixed["stdout"].strip().splitlines()
    print(f"reset #{reset['reset_count']} to with-sub: {passed}, {defs} defs")
    print(f"services after reset: {pyro.list_services(workspace_id)['count']}")

    # And all the way back to the create-time baseline.
    pyro.reset_workspace(workspace_id)
    changed = pyro.diff_workspace(workspace_id)["changed"]
    print(f"after reset to baseline, changed since baseline: {changed}")
    names = [s["snapshot_name"] for s in pyro.list_snapshots(workspace_id)["snapshots"]]
    print(f"snapshots kept: {', '.join(names)}")

    pyro.delete_workspace(workspace_id)
    print(f"deleted {workspace_id}")
