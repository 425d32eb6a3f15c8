"""Agent to customer backend: task status, heartbeats, logs, config and license (spec 14.3)."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from contracts.base import ContractModel
from contracts.common import NonEssentialEnv, ReceivedAck
from contracts.enums import AgentTaskStatus, LogStream, TaskResultStatus
from contracts.gcc_reports import MAX_ERROR_MESSAGE_LENGTH
from contracts.limits import MAX_APP_VERSION_LENGTH, MAX_STORED_INTEGER
from contracts.primitives import CommitId, Timestamp
from contracts.versions import Version

__all__ = [
    "MAX_LOG_BATCH_LINES",
    "MAX_LOG_LINE_LENGTH",
    "REPORTABLE_TASK_STATUSES",
    "ConfigInsertRequest",
    "ConfigInsertResponse",
    "LicenseStatus",
    "LogBatch",
    "LogLine",
    "TaskHeartbeatAck",
    "TaskResult",
    "TaskStatusUpdate",
]

REPORTABLE_TASK_STATUSES: Final = frozenset(
    {AgentTaskStatus.IN_PROGRESS, AgentTaskStatus.COMPLETED, AgentTaskStatus.FAILED}
)
"""The statuses the agent may report for a task."""

_REPORTABLE_TASK_STATUS_SCHEMA: Final = {
    "type": "string",
    "enum": [str(value) for value in AgentTaskStatus if value in REPORTABLE_TASK_STATUSES],
}
"""What the document offers for a reported status: only the reportable ones."""

MAX_LOG_LINE_LENGTH: Final = 16_384
"""Longest accepted log line; the agent cuts longer lines."""

MAX_LOG_BATCH_LINES: Final = 1_000
"""Most lines in one log batch."""


class TaskResult(ContractModel):
    """What a finished task achieved."""

    status: TaskResultStatus
    """Outcome of the task."""
    release_version: Version | None = None
    """The version the task deployed or rolled back to."""
    helm_revision: int | None = Field(default=None, ge=1, le=MAX_STORED_INTEGER)
    """The Helm release revision now running (kubernetes)."""
    commit_id: CommitId | None = None
    """The commit holding the rendered manifests (gitops)."""
    rolled_back_to: Version | None = None
    """The version restored after a failure (status `rolledBack`)."""
    app_version: str | None = Field(default=None, max_length=MAX_APP_VERSION_LENGTH)
    """The application version now running, as the deployed chart or bundle declares it
    (Helm's `appVersion`); GCC shows it beside the release version (spec 5.6 `appVer`)."""
    message: str | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_LENGTH)
    """A short account for humans."""


class TaskStatusUpdate(ContractModel):
    """Body of `POST /internal/agent/tasks/{taskId}/status`.

    `status` is one of `inProgress`, `completed` or `failed`; a `failed` update carries an
    `errorMessage`.
    """

    # Published as well as checked: a failed update says why.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"status": {"const": "failed"}}, "required": ["status"]},
            "then": {
                "properties": {"errorMessage": {"type": "string", "minLength": 1}},
                "required": ["errorMessage"],
            },
        }
    )

    status: Annotated[AgentTaskStatus, WithJsonSchema(_REPORTABLE_TASK_STATUS_SCHEMA)]
    """`inProgress`, `completed` or `failed`."""
    picked_up_at: Timestamp | None = None
    """When the agent started the task."""
    completed_at: Timestamp | None = None
    """When the agent finished the task."""
    result: TaskResult | None = None
    """What the task achieved; also sent with `failed` when something was restored."""
    error_message: str | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_LENGTH)
    """Why the task failed: the reason and the tail of the command's stderr."""
    retryable: bool = False
    """Whether running the task again could succeed (a download that failed, not a bad chart)."""

    @field_validator("status")
    @classmethod
    def _require_reportable_status(cls, status: AgentTaskStatus) -> AgentTaskStatus:
        if status not in REPORTABLE_TASK_STATUSES:
            raise ValueError(
                f"the agent reports 'inProgress', 'completed' or 'failed', not '{status}'"
            )
        return status

    @model_validator(mode="after")
    def _require_error_message_on_failure(self) -> TaskStatusUpdate:
        if self.status is AgentTaskStatus.FAILED and not self.error_message:
            raise ValueError("errorMessage is required when status is 'failed'")
        return self


class TaskHeartbeatAck(ReceivedAck):
    """Answer to `POST /internal/agent/tasks/{taskId}/heartbeat`.

    `taskStatus` lets the agent notice that the backend no longer counts the task as running
    (it timed out or was cancelled).
    """

    task_status: AgentTaskStatus | None = None
    """The task's status in the backend after the heartbeat."""


class LogLine(ContractModel):
    """One line of deployment output."""

    timestamp: Timestamp
    """When the line was produced."""
    stream: LogStream
    """`stdout` or `stderr` of the executor's command, or `agent` for the agent's own."""
    line: str = Field(max_length=MAX_LOG_LINE_LENGTH)
    """The text, without its line break."""


class LogBatch(ContractModel):
    """Body of `POST /internal/agent/tasks/{taskId}/logs`, answered with `ReceivedAck`."""

    lines: list[LogLine] = Field(min_length=1, max_length=MAX_LOG_BATCH_LINES)
    """Lines in the order they were produced."""


class ConfigInsertRequest(NonEssentialEnv):
    """Body of `POST /internal/config`: add a non-essential variable unless the key exists.

    An existing value (an admin's) is never overwritten.
    """


class ConfigInsertResponse(ContractModel):
    """Answer to `POST /internal/config`."""

    created: bool
    """True when the variable was added, false when it already existed."""


class LicenseStatus(ContractModel):
    """Answer to `GET /internal/license/status`."""

    valid: bool
    """Whether the license allows deploying now."""
    expires_at: Timestamp | None = None
    """When the license expires; null when it does not."""
