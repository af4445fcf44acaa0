"""TypedDicts of the Pyro methods: one result type per operation (`<Method>Result`) and the
structured parameters (service readiness).

Generated from the declarations in src/operations/ (npm run gen:python). Do not edit by hand.
"""

from typing import Any, Literal, NotRequired, TypedDict


class DoctorResultQemu(TypedDict):
    path: str | None
    version: str | None


class DoctorResultAcceleratorKvmDevice(TypedDict):
    exists: bool
    readable: bool
    writable: bool


class DoctorResultAccelerator(TypedDict):
    accelerator: Literal["kvm", "tcg"]
    reason: str
    source: Literal["probe", "cache", "override", "no-kvm"]
    kvm_device: DoctorResultAcceleratorKvmDevice
    probed_at: str | None


class DoctorResultHostTools(TypedDict):
    tool: str
    package: str
    path: str | None


class DoctorResultAgent(TypedDict):
    path: str
    present: bool


class DoctorResultEnvironments(TypedDict):
    name: str
    installed: bool
    kernel_version: str | None
    problem: str | None


class DoctorResultBootArtifacts(TypedDict):
    environment: str
    kernel: bool
    rootfs: bool
    initramfs: bool


class DoctorResultCapabilities(TypedDict):
    vm_boot: bool
    guest_exec: bool
    guest_network: bool


class DoctorResultWarmSavedStates(TypedDict):
    environment: str
    shape: str
    created_at: str
    state_bytes: int


class DoctorResultWarm(TypedDict):
    enabled: bool
    boot_path: Literal["warm", "cold"]
    saved_states: list[DoctorResultWarmSavedStates]


class DoctorResultIssues(TypedDict):
    problem: str
    fix: str


class DoctorResultHostCompat(TypedDict):
    guest_boot: bool
    reason: str | None
    isolation: Literal["none"]


class DoctorResult(TypedDict):
    version: str
    platform: str
    node_version: str
    runtime: Literal["PASS", "FAIL"]
    qemu: DoctorResultQemu
    accelerator: DoctorResultAccelerator
    host_tools: list[DoctorResultHostTools]
    agent: DoctorResultAgent
    environment_cache: str
    environments: list[DoctorResultEnvironments]
    boot_artifacts: DoctorResultBootArtifacts
    capabilities: DoctorResultCapabilities
    warm: DoctorResultWarm
    issues: list[DoctorResultIssues]
    host_compat: DoctorResultHostCompat


class ListEnvironmentsResultEnvironments(TypedDict):
    name: str
    version: str
    description: str
    default_packages: list[str]
    distribution: str
    distribution_version: str
    installed: bool
    source: Literal["catalog", "oci", "build"]
    digest: str | None
    size_bytes: int | None


class ListEnvironmentsResult(TypedDict):
    catalog_version: str
    environments: list[ListEnvironmentsResultEnvironments]


class PullEnvironmentResultProvenance1(TypedDict):
    kind: Literal["oci"]
    reference: str
    canonical: str
    manifest_digest: str
    config_digest: str
    layers: list[str]


class PullEnvironmentResultProvenance2Copies(TypedDict):
    host_path: str
    guest_path: str
    sha256: str


class PullEnvironmentResultProvenance2(TypedDict):
    kind: Literal["build"]
    base: str
    base_digest: str
    steps: list[str]
    copies: list[PullEnvironmentResultProvenance2Copies]
    network: bool
    inputs_digest: str


class PullEnvironmentResult(TypedDict):
    name: str
    version: str
    description: str
    default_packages: list[str]
    distribution: str
    distribution_version: str
    installed: bool
    source: Literal["catalog", "oci", "build"]
    digest: str | None
    size_bytes: int | None
    install_dir: str
    kernel_image: str
    rootfs_image: str
    kernel_version: str | None
    built_at: str | None
    problem: str | None
    provenance: PullEnvironmentResultProvenance1 | PullEnvironmentResultProvenance2 | None
    image_env: list[str]
    working_dir: str | None
    pulled: bool


class InspectEnvironmentResult(TypedDict):
    name: str
    version: str
    description: str
    default_packages: list[str]
    distribution: str
    distribution_version: str
    installed: bool
    source: Literal["catalog", "oci", "build"]
    digest: str | None
    size_bytes: int | None
    install_dir: str
    kernel_image: str
    rootfs_image: str
    kernel_version: str | None
    built_at: str | None
    problem: str | None
    provenance: PullEnvironmentResultProvenance1 | PullEnvironmentResultProvenance2 | None
    image_env: list[str]
    working_dir: str | None


class PruneEnvironmentsResultRemoved(TypedDict):
    name: str
    reason: str


class PruneEnvironmentsResult(TypedDict):
    removed: list[PruneEnvironmentsResultRemoved]
    count: int


class BuildEnvironmentResult(TypedDict):
    name: str
    version: str
    description: str
    default_packages: list[str]
    distribution: str
    distribution_version: str
    installed: bool
    source: Literal["catalog", "oci", "build"]
    digest: str | None
    size_bytes: int | None
    install_dir: str
    kernel_image: str
    rootfs_image: str
    kernel_version: str | None
    built_at: str | None
    problem: str | None
    provenance: PullEnvironmentResultProvenance1 | PullEnvironmentResultProvenance2 | None
    image_env: list[str]
    working_dir: str | None
    built: bool


class RunInVmResult(TypedDict):
    environment: str
    command: str
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    exit_code: int | None
    timed_out: bool
    state: Literal["running", "finished"]
    run_id: str | None
    signal: str | None
    duration_ms: float
    boot_ms: float
    execution_mode: Literal["guest_agent", "host_compat"]
    accelerator: str
    vcpu_count: int
    mem_mib: int
    network: bool


class CreateVmResult(TypedDict):
    vm_id: str
    environment: str
    state: Literal["created", "started", "stopped", "crashed"]
    vcpu_count: int
    mem_mib: int
    ttl_seconds: int
    network: bool
    allow_host_compat: bool
    created_at: str
    expires_at: str
    workspace_id: str | None
    execution_mode: Literal["guest_agent", "host_compat"]
    accelerator: str | None
    last_error: str | None


class ExecVmResult(TypedDict):
    vm_id: str
    sequence: int
    command: str
    cwd: str
    state: Literal["running", "finished", "lost"]
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    exit_code: int | None
    timed_out: bool
    duration_ms: float
    started_at: str
    execution_mode: Literal["guest_agent", "host_compat"]
    deleted: Literal[True]


class DeleteVmResult(TypedDict):
    vm_id: str
    deleted: Literal[True]


class NetworkInfoVmResult(TypedDict):
    vm_id: str
    network: bool
    mode: Literal["user", "none", "host"]
    guest_ip: str | None
    gateway: str | None
    dns: str | None


class ReapExpiredResult(TypedDict):
    count: int
    vms: list[str]
    workspaces: list[str]


class CreateWorkspaceSecrets(TypedDict):
    name: str
    value: NotRequired[str]
    file_path: NotRequired[str]


class CreateWorkspaceResultWorkspaceSeed(TypedDict):
    mode: Literal["empty", "directory", "tar_archive"]
    seed_path: str | None
    destination: str
    entry_count: int
    bytes_written: int


class CreateWorkspaceResultSecrets(TypedDict):
    name: str
    source_kind: Literal["literal", "file"]


class CreateWorkspaceResult(TypedDict):
    schema_version: int
    workspace_id: str
    environment: str
    state: Literal["starting", "started", "stopped", "crashed"]
    created_at: str
    expires_at: str
    ttl_seconds: int
    vcpu_count: int
    mem_mib: int
    network: bool
    network_policy: Literal["off", "egress", "egress+published-ports"]
    workspace_path: str
    workspace_seed: CreateWorkspaceResultWorkspaceSeed
    command_count: int
    reset_count: int
    last_reset_at: str | None
    last_error: str | None
    execution_mode: Literal["guest_agent", "host_compat"]
    accelerator: str | None
    service_count: int
    running_service_count: int
    boot_path: NotRequired[Literal["warm", "cold"] | None]
    boot_note: NotRequired[str | None]
    saved_state_bytes: NotRequired[int | None]
    name: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]
    secrets: NotRequired[list[CreateWorkspaceResultSecrets]]


class ListWorkspacesResultWorkspaces(TypedDict):
    workspace_id: str
    environment: str
    state: Literal["starting", "started", "stopped", "crashed"]
    created_at: str
    expires_at: str
    name: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]


class ListWorkspacesResultUnreadable(TypedDict):
    workspace_id: str
    problem: str


class ListWorkspacesResult(TypedDict):
    count: int
    workspaces: list[ListWorkspacesResultWorkspaces]
    unreadable: list[ListWorkspacesResultUnreadable]


class ExecWorkspaceResult(TypedDict):
    workspace_id: str
    sequence: int
    command: str
    cwd: str
    state: Literal["running", "finished", "lost"]
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    exit_code: int | None
    timed_out: bool
    duration_ms: float
    started_at: str
    execution_mode: Literal["guest_agent", "host_compat"]


class LogsWorkspaceResultEntries(TypedDict):
    sequence: int
    command: str
    cwd: str
    state: Literal["running", "finished", "lost"]
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    exit_code: int | None
    timed_out: bool
    duration_ms: float
    started_at: str
    execution_mode: Literal["guest_agent", "host_compat"]


class LogsWorkspaceResultPage(TypedDict):
    stream: Literal["stdout", "stderr"]
    offset: int
    next_offset: int
    bytes: int
    stored_bytes: int
    total_bytes: int
    eof: bool
    data: str


class LogsWorkspaceResult(TypedDict):
    workspace_id: str
    count: int
    omitted_count: int
    entries: list[LogsWorkspaceResultEntries]
    page: NotRequired[LogsWorkspaceResultPage]


class DeleteWorkspaceResult(TypedDict):
    workspace_id: str
    deleted: Literal[True]


class PushWorkspaceSyncResultWorkspaceSync(TypedDict):
    mode: Literal["directory", "tar_archive"]
    source_path: str
    destination: str
    entry_count: int
    bytes_written: int


class PushWorkspaceSyncResult(TypedDict):
    workspace_id: str
    workspace_sync: PushWorkspaceSyncResultWorkspaceSync


class ExportWorkspaceResult(TypedDict):
    workspace_id: str
    workspace_path: str
    output_path: str
    artifact_type: Literal["file", "directory", "symlink"]
    entry_count: int
    bytes_written: int
    execution_mode: Literal["guest_agent", "host_compat"]


class DiffWorkspaceResultSummary(TypedDict):
    total: int
    added: int
    modified: int
    deleted: int
    type_changed: int
    text_patched: int
    non_text: int


class DiffWorkspaceResultEntries(TypedDict):
    path: str
    status: Literal["added", "modified", "deleted", "type_changed"]
    artifact_type: Literal["file", "directory", "symlink"]
    text_patch: bool


class DiffWorkspaceResult(TypedDict):
    workspace_id: str
    changed: bool
    summary: DiffWorkspaceResultSummary
    entries: list[DiffWorkspaceResultEntries]
    patch: str


class ListWorkspaceDiskResultEntries(TypedDict):
    path: str
    artifact_type: Literal["file", "directory", "symlink", "fifo", "char_device", "block_device", "socket", "unknown"]
    size_bytes: int
    mode: str
    link_target: str | None


class ListWorkspaceDiskResult(TypedDict):
    workspace_id: str
    snapshot: str | None
    execution_mode: Literal["offline_disk"]
    path: str
    recursive: bool
    count: int
    truncated: bool
    entries: list[ListWorkspaceDiskResultEntries]


class ReadWorkspaceDiskResult(TypedDict):
    workspace_id: str
    snapshot: str | None
    execution_mode: Literal["offline_disk"]
    path: str
    size_bytes: int
    max_bytes: int
    bytes_read: int
    truncated: bool
    content: str


class ExportWorkspaceDiskResult(TypedDict):
    workspace_id: str
    snapshot: str | None
    execution_mode: Literal["offline_disk"]
    workspace_path: str
    output_path: str
    artifact_type: Literal["file", "directory"]
    entry_count: int
    bytes_written: int


class ResetWorkspaceResult(TypedDict):
    schema_version: int
    workspace_id: str
    environment: str
    state: Literal["starting", "started", "stopped", "crashed"]
    created_at: str
    expires_at: str
    ttl_seconds: int
    vcpu_count: int
    mem_mib: int
    network: bool
    network_policy: Literal["off", "egress", "egress+published-ports"]
    workspace_path: str
    workspace_seed: CreateWorkspaceResultWorkspaceSeed
    command_count: int
    reset_count: int
    last_reset_at: str | None
    last_error: str | None
    execution_mode: Literal["guest_agent", "host_compat"]
    accelerator: str | None
    service_count: int
    running_service_count: int
    boot_path: NotRequired[Literal["warm", "cold"] | None]
    boot_note: NotRequired[str | None]
    saved_state_bytes: NotRequired[int | None]
    name: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]
    secrets: NotRequired[list[CreateWorkspaceResultSecrets]]
    restored_snapshot: str


class CreateSnapshotResultSnapshot(TypedDict):
    snapshot_name: str
    kind: Literal["baseline", "named"]
    created_at: str
    entry_count: int | None
    bytes_written: int | None
    snapshot_kind: Literal["workspace", "full"]
    disk_bytes: int | None


class CreateSnapshotResult(TypedDict):
    workspace_id: str
    snapshot: CreateSnapshotResultSnapshot


class ListSnapshotsResult(TypedDict):
    workspace_id: str
    count: int
    snapshots: list[CreateSnapshotResultSnapshot]


class OpenShellResult(TypedDict):
    workspace_id: str
    shell_id: str
    cwd: str
    cols: int
    rows: int
    state: Literal["running", "stopped"]
    pid: int | None
    started_at: str
    ended_at: str | None
    exit_code: int | None
    execution_mode: Literal["guest_agent", "host_compat"]


class ReadShellResult(TypedDict):
    workspace_id: str
    shell_id: str
    state: Literal["running", "stopped"]
    exit_code: int | None
    output: str
    cursor: int
    next_cursor: int
    end_cursor: int
    truncated: bool
    truncated_chars: int
    plain: bool


class WriteShellResult(TypedDict):
    workspace_id: str
    shell_id: str
    cwd: str
    cols: int
    rows: int
    state: Literal["running", "stopped"]
    pid: int | None
    started_at: str
    ended_at: str | None
    exit_code: int | None
    execution_mode: Literal["guest_agent", "host_compat"]
    input_chars: int


class SignalShellResult(TypedDict):
    workspace_id: str
    shell_id: str
    cwd: str
    cols: int
    rows: int
    state: Literal["running", "stopped"]
    pid: int | None
    started_at: str
    ended_at: str | None
    exit_code: int | None
    execution_mode: Literal["guest_agent", "host_compat"]
    signal: Literal["HUP", "INT", "TERM", "KILL"]


class CloseShellResult(TypedDict):
    workspace_id: str
    shell_id: str
    cwd: str
    cols: int
    rows: int
    state: Literal["running", "stopped"]
    pid: int | None
    started_at: str
    ended_at: str | None
    exit_code: int | None
    execution_mode: Literal["guest_agent", "host_compat"]
    closed: Literal[True]


class ListShellsResult(TypedDict):
    workspace_id: str
    count: int
    shells: list[OpenShellResult]


class StartServiceReadiness1(TypedDict):
    type: Literal["file"]
    path: str


class StartServiceReadiness2(TypedDict):
    type: Literal["tcp"]
    address: str


class StartServiceReadiness3(TypedDict):
    type: Literal["http"]
    url: str


class StartServiceReadiness4(TypedDict):
    type: Literal["command"]
    command: str


class StartServicePublishedPorts(TypedDict):
    host_port: NotRequired[int | None]
    guest_port: int


class StartServiceResultPublishedPorts(TypedDict):
    host: Literal["127.0.0.1"]
    host_port: int
    guest_port: int
    protocol: Literal["tcp"]


class StartServiceResult(TypedDict):
    workspace_id: str
    service_name: str
    command: str
    cwd: str
    state: Literal["starting", "running", "exited", "stopped", "failed"]
    started_at: str
    ready_at: str | None
    ended_at: str | None
    exit_code: int | None
    pid: int | None
    readiness: StartServiceReadiness1 | StartServiceReadiness2 | StartServiceReadiness3 | StartServiceReadiness4 | None
    ready_timeout_seconds: int
    ready_interval_ms: int
    stop_reason: Literal["sigterm", "sigkill"] | None
    failure_reason: str | None
    execution_mode: Literal["guest_agent", "host_compat"]
    published_ports: list[StartServiceResultPublishedPorts]


class ListServicesResult(TypedDict):
    workspace_id: str
    count: int
    running_count: int
    services: list[StartServiceResult]


class LogsServiceResult(TypedDict):
    workspace_id: str
    service_name: str
    state: Literal["starting", "running", "exited", "stopped", "failed"]
    stdout: str
    stderr: str
    tail_lines: int | None
    stdout_truncated: bool
    stderr_truncated: bool


class NetworkInfoWorkspaceResultPublishedPorts(TypedDict):
    host: Literal["127.0.0.1"]
    host_port: int
    guest_port: int
    protocol: Literal["tcp"]
    service_name: str


class NetworkInfoWorkspaceResult(TypedDict):
    workspace_id: str
    network_policy: Literal["off", "egress", "egress+published-ports"]
    mode: Literal["none", "user", "host"]
    guest_ip: str | None
    gateway: str | None
    dns: str | None
    egress: bool
    publish_allowed: bool
    published_ports: list[NetworkInfoWorkspaceResultPublishedPorts]
    summary: str


class ListWorkspaceFilesResultEntries(TypedDict):
    path: str
    artifact_type: Literal["file", "directory", "symlink", "other"]
    size_bytes: int
    mode: str
    link_target: str | None


class ListWorkspaceFilesResult(TypedDict):
    workspace_id: str
    path: str
    recursive: bool
    count: int
    truncated: bool
    entries: list[ListWorkspaceFilesResultEntries]


class ReadWorkspaceFileResult(TypedDict):
    workspace_id: str
    path: str
    size_bytes: int
    offset: int
    start_line: int | None
    end_line: int | None
    max_bytes: int
    bytes_read: int
    truncated: bool
    next_offset: int | None
    content: str


class WriteWorkspaceFileResult(TypedDict):
    workspace_id: str
    path: str
    bytes_written: int
    created: bool


class ApplyWorkspacePatchResultSummary(TypedDict):
    total: int
    added: int
    modified: int
    deleted: int


class ApplyWorkspacePatchResultEntries(TypedDict):
    path: str
    status: Literal["added", "modified", "deleted"]
    hunks: int


class ApplyWorkspacePatchResult(TypedDict):
    workspace_id: str
    changed: bool
    summary: ApplyWorkspacePatchResultSummary
    entries: list[ApplyWorkspacePatchResultEntries]


class SummarizeWorkspaceResultSeed(TypedDict):
    mode: str
    seed_path: str | None


class SummarizeWorkspaceResultChangesEntries(TypedDict):
    path: str
    status: str
    artifact_type: str


class SummarizeWorkspaceResultChanges(TypedDict):
    total: int
    added: int
    modified: int
    deleted: int
    type_changed: int
    truncated: bool
    entries: list[SummarizeWorkspaceResultChangesEntries]


class SummarizeWorkspaceResultSnapshots(TypedDict):
    snapshot_name: str
    kind: str
    created_at: str


class SummarizeWorkspaceResultServices(TypedDict):
    service_name: str
    state: str
    command: str


class SummarizeWorkspaceResultShells(TypedDict):
    shell_id: str
    state: str
    cwd: str


class SummarizeWorkspaceResultRecentCommands(TypedDict):
    sequence: int
    command: str
    state: Literal["running", "finished", "lost"]
    exit_code: int | None
    started_at: str


class SummarizeWorkspaceResult(TypedDict):
    workspace_id: str
    environment: str
    state: str
    execution_mode: str
    created_at: str
    expires_at: str
    reset_count: int
    last_reset_at: str | None
    last_error: str | None
    seed: SummarizeWorkspaceResultSeed
    changes: SummarizeWorkspaceResultChanges | None
    snapshots: list[SummarizeWorkspaceResultSnapshots]
    services: list[SummarizeWorkspaceResultServices]
    shells: list[SummarizeWorkspaceResultShells]
    command_count: int
    recent_commands: list[SummarizeWorkspaceResultRecentCommands]
    notes: list[str]


class ForkWorkspaceResult(TypedDict):
    schema_version: int
    workspace_id: str
    environment: str
    state: Literal["starting", "started", "stopped", "crashed"]
    created_at: str
    expires_at: str
    ttl_seconds: int
    vcpu_count: int
    mem_mib: int
    network: bool
    network_policy: Literal["off", "egress", "egress+published-ports"]
    workspace_path: str
    workspace_seed: CreateWorkspaceResultWorkspaceSeed
    command_count: int
    reset_count: int
    last_reset_at: str | None
    last_error: str | None
    execution_mode: Literal["guest_agent", "host_compat"]
    accelerator: str | None
    service_count: int
    running_service_count: int
    boot_path: NotRequired[Literal["warm", "cold"] | None]
    boot_note: NotRequired[str | None]
    saved_state_bytes: NotRequired[int | None]
    name: NotRequired[str | None]
    labels: NotRequired[dict[str, str]]
    secrets: NotRequired[list[CreateWorkspaceResultSecrets]]
    source_workspace_id: str
    source_snapshot: str | None


StartVmResult = CreateVmResult
StopVmResult = CreateVmResult
StatusVmResult = CreateVmResult
WaitRunResult = RunInVmResult
StatusWorkspaceResult = CreateWorkspaceResult
UpdateWorkspaceResult = CreateWorkspaceResult
StopWorkspaceResult = CreateWorkspaceResult
StartWorkspaceResult = CreateWorkspaceResult
DeleteSnapshotResult = CreateSnapshotResult
ResizeShellResult = OpenShellResult
StatusServiceResult = StartServiceResult
StopServiceResult = StartServiceResult
