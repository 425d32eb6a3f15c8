"""Customer backend to agent: the task the agent claims with `GET /internal/agent/tasks`.

Every file the agent needs arrives as a short-lived presigned `downloadUrl` plus the SHA256
the downloaded bytes must have; the agent holds no bucket credentials and never uses a file it
has not verified. A task is a :data:`AgentTask`, a union discriminated by `type`::

    poll = AgentPollResponse.model_validate_json(raw)
    match poll.task:
        case DeployTask(payload=payload): ...
        case RollbackTask(payload=payload): ...
        case MaintenanceTask(payload=payload): ...
        case None: ...
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter, field_validator, model_validator

from contracts.base import ContractModel
from contracts.common import NonEssentialEnv, ensure_unique_env_keys
from contracts.enums import ArtifactType
from contracts.limits import MAX_STORED_INTEGER
from contracts.manifests import SignedManifest
from contracts.primitives import (
    BucketKey,
    DownloadUrl,
    ImageTags,
    Sha256,
    Timestamp,
    TraceParent,
)
from contracts.versions import Version

__all__ = [
    "AGENT_TASK_ADAPTER",
    "AgentPollResponse",
    "AgentTask",
    "ArtifactRef",
    "DeployPayload",
    "DeployTask",
    "FileRef",
    "MaintenancePayload",
    "MaintenanceTask",
    "ReleaseBundle",
    "RollbackPayload",
    "RollbackTask",
]


class FileRef(ContractModel):
    """A file in the customer bucket, with a way to download it and its expected digest."""

    bucket_path: BucketKey
    """Key in the customer bucket, such as `config/values.yaml` or `config/.env.v2.2.0`."""
    download_url: DownloadUrl
    """Presigned URL to download the file from, valid for a short time."""
    sha256: Sha256
    """SHA256 the downloaded bytes must have."""
    size_bytes: int | None = Field(default=None, ge=0)
    """Size of the file, when known, so a download can stop early when it grows past it."""


class ArtifactRef(FileRef):
    """A release artifact (Helm chart or Compose bundle) in the customer bucket."""

    type: ArtifactType
    """Helm chart or Compose bundle."""
    version: Version
    """The artifact's version."""


class ReleaseBundle(ContractModel):
    """Everything needed to run one version: chart, image tags and essential configuration."""

    version: Version
    """The release version this bundle runs."""
    chart: ArtifactRef
    """The Helm chart (kubernetes, gitops) or Compose bundle (docker)."""
    image_tags: ImageTags = Field(default_factory=dict)
    """Image tag per service: Helm `--set <service>.image.tag=<tag>`, Compose
    `<SERVICE>_IMAGE_TAG` (`controlTower` becomes `CONTROL_TOWER_IMAGE_TAG`)."""
    values: FileRef | None = None
    """Helm `values.yaml` this version runs with (kubernetes, gitops)."""
    env: FileRef | None = None
    """Compose `.env` this version runs with (docker)."""
    manifest: SignedManifest | None = None
    """GCC's signed manifest of the version, which the agent verifies with its own trusted keys
    and checks the chart against before running anything; null only for a release published
    before GCC signed manifests."""


class DeployPayload(ReleaseBundle):
    """Payload of a `deploy` task: the bundle to run, and what to restore if it fails."""

    new_non_essential_envs: list[NonEssentialEnv] = Field(default_factory=list)
    """Variables to insert with `POST /internal/config` before deploying; failures there do
    not stop the deployment."""
    previous: ReleaseBundle | None = None
    """The version running now. Compose has no atomic mode, so when a Compose deployment fails
    the agent re-deploys this bundle and reports `rolledBack`."""

    @field_validator("new_non_essential_envs")
    @classmethod
    def _require_unique_env_keys(cls, envs: list[NonEssentialEnv]) -> list[NonEssentialEnv]:
        ensure_unique_env_keys(envs)
        return envs


class RollbackPayload(ContractModel):
    """Payload of a `rollback` task: by Helm revision, or by re-deploying a version.

    At most one of `targetRevision` and `targetVersion` is set. A rollback by version
    carries that version's `release` bundle. With neither, `toPrevious` must be set and Helm
    goes back to the previous revision (`helm rollback RELEASE`); for Compose and GitOps the
    backend names the previous version and sets `toPrevious` too.
    """

    target_revision: int | None = Field(default=None, ge=1, le=MAX_STORED_INTEGER)
    """Helm revision to roll back to (`helm rollback RELEASE REVISION`); kubernetes only."""
    target_version: Version | None = None
    """Version to re-deploy from its artifacts."""
    release: ReleaseBundle | None = None
    """The bundle of `targetVersion`; required with it, absent for a rollback by revision."""
    to_previous: bool = False
    """The admin asked for the previous version without naming one."""

    @model_validator(mode="after")
    def _allow_one_target(self) -> RollbackPayload:
        if self.target_revision is not None and self.target_version is not None:
            raise ValueError("at most one of targetRevision and targetVersion is allowed")
        if self.target_revision is None and self.target_version is None and not self.to_previous:
            raise ValueError("targetRevision, targetVersion or toPrevious is required")
        if self.target_version is not None:
            if self.release is None:
                raise ValueError("release is required with targetVersion")
            if self.release.version != self.target_version:
                raise ValueError(
                    f"release.version {self.release.version} differs from "
                    f"targetVersion {self.target_version}"
                )
        elif self.release is not None:
            raise ValueError("release is only allowed with targetVersion")
        return self


class MaintenancePayload(ContractModel):
    """Payload of a `maintenance` task: the state an admin switched maintenance mode to."""

    enabled: bool
    """On (the proxy serves the maintenance page) or off."""


class DeployTask(ContractModel):
    """An agent task that deploys a release."""

    id: UUID
    """The task's id, used in its status, heartbeat and log URLs."""
    type: Literal["deploy"] = "deploy"
    """Always `deploy`."""
    payload: DeployPayload
    """What to deploy."""
    execute_after: Timestamp
    """The task may not run before this time."""
    traceparent: TraceParent | None = None
    """The W3C Trace Context the task continues (the release's trace, or the admin's
    request); the agent runs the task in a span under it and sends its reports with it."""
    deployment_id: UUID | None = None
    """The scheduled deployment the task belongs to."""
    maintenance_held: bool = False
    """An admin holds maintenance mode on: the agent switches it on as usual but leaves it on
    when the task ends."""


class RollbackTask(ContractModel):
    """An agent task that rolls back to an earlier revision or version."""

    id: UUID
    """The task's id, used in its status, heartbeat and log URLs."""
    type: Literal["rollback"] = "rollback"
    """Always `rollback`."""
    payload: RollbackPayload
    """What to roll back to."""
    execute_after: Timestamp
    """The task may not run before this time."""
    traceparent: TraceParent | None = None
    """The W3C Trace Context the task continues (the release's trace, or the admin's
    request); the agent runs the task in a span under it and sends its reports with it."""
    deployment_id: UUID | None = None
    """The deployment the rollback belongs to, if any."""
    maintenance_held: bool = False
    """An admin holds maintenance mode on: the agent switches it on as usual but leaves it on
    when the task ends."""


class MaintenanceTask(ContractModel):
    """An agent task that switches maintenance mode on or off, as an admin asked."""

    id: UUID
    """The task's id, used in its status, heartbeat and log URLs."""
    type: Literal["maintenance"] = "maintenance"
    """Always `maintenance`."""
    payload: MaintenancePayload
    """The state to switch to."""
    execute_after: Timestamp
    """The task may not run before this time."""
    traceparent: TraceParent | None = None
    """The W3C Trace Context the task continues (the release's trace, or the admin's
    request); the agent runs the task in a span under it and sends its reports with it."""
    deployment_id: UUID | None = None
    """Always null."""


AgentTask = Annotated[DeployTask | RollbackTask | MaintenanceTask, Field(discriminator="type")]
"""A task for the agent, told apart by `type` (`deploy`, `rollback` or `maintenance`)."""

AGENT_TASK_ADAPTER: TypeAdapter[DeployTask | RollbackTask | MaintenanceTask] = TypeAdapter(
    AgentTask
)
"""Validates a task on its own: `AGENT_TASK_ADAPTER.validate_json(raw)`."""


class AgentPollResponse(ContractModel):
    """Answer to `GET /internal/agent/tasks`: `{"task": {...}}` or `{"task": null}`."""

    task: AgentTask | None = None
    """The claimed task, already marked in progress, or null when there is nothing to do."""
