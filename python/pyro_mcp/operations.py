"""The Python method table: one line per operation of pyro.

Each line maps a ``Pyro`` method name (the original's snake_case name) to the MCP tool it calls,
its positional parameters in order, and its keyword-only options (the tool's other input fields).
Operations that have no MCP tool (doctor, prune_environments) go through the CLI with
``--json`` (``cli=``). A field named like a Python keyword (``from``) is a parameter with a
trailing underscore (``from_``). tests/unit/python-sdk.test.ts holds this table to the declarations in
src/operations/, so an operation added there fails the test until its line is added here.
Result types come from types.py (``<Method>Result``), generated from the same declarations.
"""

from typing import NamedTuple


class Op(NamedTuple):
    tool: str | None
    args: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    #: CLI words for an operation that has no MCP tool, e.g. ("env", "pull").
    cli: tuple[str, ...] | None = None
    #: Result field naming what the call creates and ``with Pyro()`` deletes on exit.
    creates: str | None = None


W = ("workspace_id",)
SHELL = ("workspace_id", "shell_id")
SERVICE = ("workspace_id", "service_name")
SNAPSHOT = ("workspace_id", "snapshot_name")
VM = ("vm_id",)
RESOURCES = ("vcpu_count", "mem_mib", "ttl_seconds", "network", "allow_host_compat")

OPERATIONS: dict[str, Op] = {
    "doctor": Op(None, cli=("doctor",)),
    "list_environments": Op("vm_list_environments"),
    "pull_environment": Op(
        "vm_pull_environment", ("environment",), ("username", "password", "insecure")
    ),
    "inspect_environment": Op("vm_inspect_environment", ("environment",)),
    "build_environment": Op(
        "vm_build_environment", ("name",), ("from", "steps", "copies", "network")
        + ("step_timeout_seconds",)
    ),
    "prune_environments": Op(None, cli=("env", "prune")),
    "run_in_vm": Op(
        "vm_run",
        (),
        ("environment", "command", "vcpu_count", "mem_mib", "timeout_seconds")
        + ("max_output_bytes", "wait_seconds", "ttl_seconds")
        + ("network", "network_policy", "allow_host_compat"),
    ),
    "wait_run": Op("vm_run_wait", ("run_id",), ("wait_seconds",)),
    "create_vm": Op("vm_create", (), ("environment", *RESOURCES), creates="vm_id"),
    "start_vm": Op("vm_start", VM),
    "exec_vm": Op("vm_exec", VM, ("command", "timeout_seconds", "max_output_bytes")),
    "stop_vm": Op("vm_stop", VM),
    "delete_vm": Op("vm_delete", VM),
    "status_vm": Op("vm_status", VM),
    "network_info_vm": Op("vm_network_info", VM),
    "reap_expired": Op("vm_reap_expired"),
    "create_workspace": Op(
        "workspace_create",
        (),
        ("environment", *RESOURCES, "network_policy", "seed_path", "name", "labels", "secrets"),
        creates="workspace_id",
    ),
    "status_workspace": Op("workspace_status", W),
    "list_workspaces": Op("workspace_list", (), ("labels",)),
    "update_workspace": Op("workspace_update", W, ("name", "labels", "clear_labels")),
    "exec_workspace": Op(
        "workspace_exec",
        W,
        ("command", "timeout_seconds", "max_output_bytes", "wait_seconds", "secret_env"),
    ),
    "logs_workspace": Op(
        "workspace_logs", W, ("sequence", "stream", "offset", "limit", "wait_seconds")
    ),
    "delete_workspace": Op("workspace_delete", W),
    "push_workspace_sync": Op("workspace_sync_push", (*W, "source_path"), ("dest",)),
    "export_workspace": Op("workspace_export", (*W, "path"), ("output_path", "overwrite")),
    "diff_workspace": Op("workspace_diff", W, ("include", "exclude", "snapshot")),
    "list_workspace_files": Op("workspace_file_list", W, ("path", "recursive", "max_entries")),
    "read_workspace_file": Op(
        "workspace_file_read", (*W, "path"), ("max_bytes", "offset", "start_line", "end_line")
    ),
    "write_workspace_file": Op("workspace_file_write", (*W, "path"), ("text",)),
    "apply_workspace_patch": Op("workspace_patch_apply", W, ("patch",)),
    "summarize_workspace": Op("workspace_summary", W),
    "list_workspace_disk": Op("workspace_disk_list", W, ("path", "recursive", "snapshot")),
    "read_workspace_disk": Op("workspace_disk_read", (*W, "path"), ("max_bytes", "snapshot")),
    "export_workspace_disk": Op(
        "workspace_disk_export", W, ("path", "output_path", "overwrite", "snapshot")
    ),
    "reset_workspace": Op("workspace_reset", W, ("snapshot",)),
    "stop_workspace": Op("workspace_stop", W),
    "network_info_workspace": Op("workspace_network_info", W),
    "start_workspace": Op("workspace_start", W),
    "create_snapshot": Op("snapshot_create", SNAPSHOT, ("kind",)),
    "fork_workspace": Op("workspace_fork", W, ("snapshot",), creates="workspace_id"),
    "list_snapshots": Op("snapshot_list", W),
    "delete_snapshot": Op("snapshot_delete", SNAPSHOT),
    "open_shell": Op("shell_open", W, ("cwd", "cols", "rows", "secret_env")),
    "read_shell": Op("shell_read", SHELL, ("cursor", "max_chars", "wait_for_idle_ms", "plain")),
    "write_shell": Op("shell_write", SHELL, ("input", "append_newline")),
    "signal_shell": Op("shell_signal", SHELL, ("signal_name",)),
    "resize_shell": Op("shell_resize", SHELL, ("cols", "rows")),
    "close_shell": Op("shell_close", SHELL),
    "list_shells": Op("shell_list", W),
    "start_service": Op(
        "service_start",
        SERVICE,
        ("command", "cwd", "readiness", "ready_timeout_seconds", "ready_interval_ms")
        + ("secret_env", "published_ports"),
    ),
    "list_services": Op("service_list", W),
    "status_service": Op("service_status", SERVICE),
    "logs_service": Op("service_logs", SERVICE, ("tail_lines", "all")),
    "stop_service": Op("service_stop", SERVICE),
}
