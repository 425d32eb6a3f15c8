"""Control Tower (admin UI) to customer backend: releases, scheduling, rollback, config (14.4)."""

from __future__ import annotations

from uuid import UUID

from pydantic import ConfigDict, Field, field_validator, model_validator

from contracts.agent_reports import TaskResult
from contracts.base import ContractModel, omit_null
from contracts.common import MAX_ENV_VALUE_LENGTH, NonEssentialEnv
from contracts.control_tower_config import DeploymentLogLineView
from contracts.enums import (
    AgentTaskStatus,
    AgentTaskType,
    LocalDeploymentStatus,
    NonEssentialEnvCategory,
)
from contracts.gcc_reports import MAX_ERROR_MESSAGE_LENGTH
from contracts.limits import MAX_STORED_INTEGER
from contracts.primitives import EnvKey, ImageTags, Timestamp
from contracts.releases import MAX_RELEASE_NOTES_LENGTH
from contracts.versions import Version

__all__ = [
    "AgentStatusView",
    "AgentTaskDetailView",
    "AgentTaskView",
    "CancelDeploymentResponse",
    "CancelTaskResponse",
    "DeploymentDetailView",
    "DeploymentHistoryView",
    "DeploymentReleasesResponse",
    "NonEssentialEnvCreate",
    "NonEssentialEnvList",
    "NonEssentialEnvUpdate",
    "NonEssentialEnvView",
    "RollbackRequest",
    "RollbackResponse",
    "ScheduleDeploymentRequest",
    "ScheduleDeploymentResponse",
    "ScheduledDeploymentView",
    "TaskTimelineEntry",
]


class ScheduledDeploymentView(ContractModel):
    """A received release and its deployment at this organization."""

    id: UUID
    """The scheduled deployment's id (`deploymentId` when scheduling)."""
    gcc_release_id: UUID
    """GCC's release id."""
    release_name: str
    """Display name, such as `v2.3.0`."""
    version: Version
    """The release version."""
    status: LocalDeploymentStatus
    """Where the deployment stands."""
    is_forced: bool = False
    """Must be deployed by `forceDeadline`."""
    force_deadline: Timestamp | None = None
    """Deadline of a forced release: receipt plus 24 hours."""
    is_migration_required: bool = False
    """The release migrates data; expect downtime."""
    estimated_downtime: str | None = None
    """Expected downtime in words."""
    release_notes: str | None = Field(default=None, max_length=MAX_RELEASE_NOTES_LENGTH)
    """Release notes."""
    image_tags: ImageTags = Field(default_factory=dict)
    """Image tag per service."""
    new_non_essential_envs: list[NonEssentialEnv] = Field(default_factory=list)
    """Variables the release introduces."""
    is_chart_downloaded: bool = False
    """The artifact is verified and stored in the customer bucket; scheduling needs it."""
    scheduled_for: Timestamp | None = None
    """When the deployment will run."""
    scheduled_by: str | None = None
    """Email of the admin who scheduled it."""
    started_at: Timestamp | None = None
    """When the agent picked it up."""
    completed_at: Timestamp | None = None
    """When it finished."""
    helm_revision: int | None = None
    """Helm revision it produced (kubernetes)."""
    error_message: str | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_LENGTH)
    """Why it failed."""
    task_id: UUID | None = None
    """The agent task that runs it, once scheduled."""
    withdrawn_at: Timestamp | None = None
    """When the vendor withdrew the release: it can no longer be scheduled."""
    rollback_version: str | None = None
    """For a withdrawn release: the version the vendor says to roll back to."""
    created_at: Timestamp
    """When the release was received."""


class DeploymentHistoryView(ContractModel):
    """A deployment or rollback that ran."""

    id: UUID
    """The history entry's id (the id of the agent task that ran it, for entries written
    since deployment ids were listed)."""
    deployment_id: UUID
    """Opens the entry with `GET /api/admin/deployment/{deploymentId}` and its logs: a deploy's
    deployment, or a rollback's agent task (a rollback belongs to no received release)."""
    task_id: UUID | None = None
    """The agent task that ran it, when known."""
    gcc_release_id: UUID
    """GCC's release id of the version deployed."""
    release_name: str
    """Display name, such as `v2.3.0`."""
    version: Version
    """The version deployed."""
    deployed_at: Timestamp
    """When it finished."""
    status: LocalDeploymentStatus
    """`success`, `failed` or `rolledBack`."""
    helm_revision: int | None = None
    """Helm revision it produced (kubernetes)."""
    is_rollback: bool = False
    """It was an admin's rollback."""
    is_current: bool = False
    """It is what runs now."""


class DeploymentReleasesResponse(ContractModel):
    """Answer to `GET /api/admin/deployment/releases`."""

    pending: list[ScheduledDeploymentView] = Field(default_factory=list)
    """Releases waiting for an admin: pending, downloadFailed, missedSchedule,
    deadlineExceeded."""
    scheduled: list[ScheduledDeploymentView] = Field(default_factory=list)
    """Deployments scheduled or in progress."""
    history: list[DeploymentHistoryView] = Field(default_factory=list)
    """Deployments and rollbacks that ran, newest first."""


class ScheduleDeploymentRequest(ContractModel):
    """Body of `POST /api/admin/deployment/schedule`."""

    deployment_id: UUID
    """The scheduled deployment to run."""
    scheduled_for: Timestamp
    """When to run it; not in the past."""


class ScheduleDeploymentResponse(ContractModel):
    """Answer to `POST /api/admin/deployment/schedule`."""

    scheduled: bool = True
    """Always true."""
    task_id: UUID
    """The agent task created for it."""


class RollbackRequest(ContractModel):
    """Body of `POST /api/admin/deployment/rollback`: at most one target.

    With neither, the rollback goes back one step: Helm's previous revision (kubernetes), or
    the previous version's artifact and configuration (docker, gitops).
    """

    # Published as well as checked: not both targets with a value.
    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["targetRevision", "targetVersion"],
                "properties": {
                    "targetRevision": {"type": "integer"},
                    "targetVersion": {"type": "string"},
                },
            }
        }
    )

    target_revision: int | None = Field(default=None, ge=1, le=MAX_STORED_INTEGER)
    """Helm revision to roll back to (kubernetes)."""
    target_version: Version | None = None
    """Version to re-deploy from its artifacts and its versioned configuration."""

    @model_validator(mode="after")
    def _allow_one_target(self) -> RollbackRequest:
        if self.target_revision is not None and self.target_version is not None:
            raise ValueError("give at most one of targetRevision and targetVersion")
        return self


class RollbackResponse(ContractModel):
    """Answer to `POST /api/admin/deployment/rollback`."""

    rollback_initiated: bool = True
    """Always true."""
    task_id: UUID
    """The rollback task created."""


class CancelDeploymentResponse(ContractModel):
    """Answer to `POST /api/admin/deployment/{deploymentId}/cancel`."""

    cancelled: bool = True
    """Always true."""
    deployment_id: UUID
    """The cancelled deployment; its pending task is cancelled with it."""


class AgentTaskView(ContractModel):
    """An agent task as admins see it."""

    id: UUID
    """The task's id."""
    type: AgentTaskType
    """`deploy`, `rollback` or `maintenance`."""
    status: AgentTaskStatus
    """Where the task stands."""
    execute_after: Timestamp
    """Earliest start."""
    picked_up_at: Timestamp | None = None
    """When the agent claimed it."""
    last_heartbeat_at: Timestamp | None = None
    """The agent's latest heartbeat for it."""
    completed_at: Timestamp | None = None
    """When it ended."""
    attempts: int = Field(default=0, ge=0)
    """How many times the agent claimed it (a failed task is not run again by itself: an
    admin schedules the deployment or asks for the rollback again, which queues a new task)."""
    result: TaskResult | None = None
    """What it achieved."""
    error_message: str | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_LENGTH)
    """Why it failed."""
    created_by: str | None = None
    """Email of the admin who asked for it."""
    created_at: Timestamp | None = None
    """When it was queued."""
    deployment_id: UUID | None = None
    """The deployment it runs; null for a rollback or a maintenance switch."""
    retryable: bool | None = None
    """For a task that did not succeed, whether the agent reported that running it again could
    succeed (a download failed) rather than not (a bad chart); null until it ends, after a
    success, and for a task that was cancelled or timed out."""


class TaskTimelineEntry(ContractModel):
    """One moment of a task's life."""

    event: str
    """`queued`, `pickedUp`, `lastHeartbeat`, `completed`, `failed` or `cancelled`."""
    at: Timestamp
    """When."""
    detail: str | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_LENGTH)
    """Who queued it, or why it failed or was cancelled."""


class AgentTaskDetailView(ContractModel):
    """Answer to `GET /api/admin/deployment/tasks/{taskId}`: a task, its timeline and logs."""

    task: AgentTaskView
    """The task, with its timings and result."""
    timeline: list[TaskTimelineEntry] = Field(default_factory=list)
    """What happened to it, oldest first."""
    logs: list[DeploymentLogLineView] = Field(default_factory=list)
    """Its latest log lines (at most `logLimit`), oldest first; the live stream is
    `GET /api/admin/deployment/{taskId}/logs/stream`."""
    log_limit: int = Field(ge=1)
    """Most log lines in `logs`."""


class CancelTaskResponse(ContractModel):
    """Answer to `POST /api/admin/deployment/tasks/{taskId}/cancel`."""

    cancelled: bool = True
    """Always true."""
    task_id: UUID
    """The cancelled task."""


class DeploymentDetailView(ContractModel):
    """Answer to `GET /api/admin/deployment/{deploymentId}`."""

    deployment: ScheduledDeploymentView | None
    """The deployment; null when the id is a rollback's task (a rollback belongs to no
    received release)."""
    tasks: list[AgentTaskView] = Field(default_factory=list)
    """Its agent tasks, oldest first (a rollback's: that one task)."""


class AgentStatusView(ContractModel):
    """Whether the agent is polling (online when it polled in the last 10 minutes)."""

    is_online: bool
    """The agent polled within the last 10 minutes."""
    last_poll_at: Timestamp | None = None
    """The agent's latest poll; null if it never polled."""


class NonEssentialEnvCreate(ContractModel):
    """Body of `POST /api/admin/config`: add a non-essential variable."""

    key: EnvKey
    """Variable name."""
    value: str = Field(max_length=MAX_ENV_VALUE_LENGTH)
    """Value."""
    description: str | None = Field(default=None, max_length=1_000)
    """What the variable does."""
    category: NonEssentialEnvCategory | None = None
    """Grouping in the Control Tower."""


class NonEssentialEnvUpdate(ContractModel):
    """Body of `PATCH /api/admin/config/{key}`: the fields to change, at least one.

    A field left out is unchanged; `description` or `category` set to null is cleared.
    """

    # Published as well as checked: at least one of the three fields.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["value"]},
                {"required": ["description"]},
                {"required": ["category"]},
            ]
        }
    )

    value: str | None = Field(
        default=None, max_length=MAX_ENV_VALUE_LENGTH, json_schema_extra=omit_null
    )
    """New value; null is not allowed."""
    description: str | None = Field(default=None, max_length=1_000)
    """New description."""
    category: NonEssentialEnvCategory | None = None
    """New category."""

    @field_validator("value")
    @classmethod
    def _refuse_null_value(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("value cannot be null; leave it out to keep the current value")
        return value

    @model_validator(mode="after")
    def _require_a_change(self) -> NonEssentialEnvUpdate:
        if not self.model_fields_set:
            raise ValueError("at least one of value, description and category is required")
        return self


class NonEssentialEnvView(ContractModel):
    """A non-essential variable as stored."""

    id: UUID
    """The variable's id."""
    key: EnvKey
    """Variable name."""
    value: str
    """Current value."""
    description: str | None = None
    """What the variable does."""
    category: NonEssentialEnvCategory | None = None
    """Grouping in the Control Tower."""
    created_at: Timestamp
    """When it was added."""
    updated_at: Timestamp
    """When it last changed."""
    updated_by: str | None = None
    """Email of the admin who last changed it; null when a release added it."""


class NonEssentialEnvList(ContractModel):
    """Answer to `GET /api/admin/config`."""

    envs: list[NonEssentialEnvView] = Field(default_factory=list)
    """Every non-essential variable, by key."""
