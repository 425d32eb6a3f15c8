"""Customer backend to GCC: heartbeat, scheduled and status reports (spec 5.4, 5.6, 14.2).

Each is answered with `ReceivedAck` (`{"received": true}`).
"""

from __future__ import annotations

from typing import Annotated, Final
from uuid import UUID

from pydantic import Field, WithJsonSchema, field_validator

from contracts.base import ContractModel
from contracts.enums import DeploymentStatus, HeartbeatStatus
from contracts.limits import MAX_APP_VERSION_LENGTH, MAX_STORED_INTEGER
from contracts.primitives import OrganizationName, Timestamp
from contracts.versions import Version

__all__ = [
    "MAX_ERROR_MESSAGE_LENGTH",
    "REPORTABLE_DEPLOYMENT_STATUSES",
    "DeploymentScheduledReport",
    "DeploymentStatusReport",
    "OrganizationHeartbeat",
]

MAX_ERROR_MESSAGE_LENGTH: Final = 65_536
"""Longest accepted error message; senders keep the tail of longer output."""

REPORTABLE_DEPLOYMENT_STATUSES: Final = frozenset(
    {
        DeploymentStatus.DOWNLOAD_FAILED,
        DeploymentStatus.IN_PROGRESS,
        DeploymentStatus.SUCCESS,
        DeploymentStatus.FAILED,
        DeploymentStatus.ROLLED_BACK,
        DeploymentStatus.DEADLINE_EXCEEDED,
        DeploymentStatus.CANCELLED,
    }
)
"""The statuses a customer backend may report; the others are GCC's own (scheduling has its
own report)."""

_REPORTABLE_DEPLOYMENT_STATUS_SCHEMA: Final = {
    "type": "string",
    "enum": [str(value) for value in DeploymentStatus if value in REPORTABLE_DEPLOYMENT_STATUSES],
}
"""What the document offers for a reported status: only the reportable ones."""


class OrganizationHeartbeat(ContractModel):
    """Body of `POST /api/v1/organizations/{name}/heartbeat`."""

    version: Version | None = None
    """The version the organization runs; null before its first deployment."""
    status: HeartbeatStatus
    """How the backend describes its own health."""
    agent_last_poll: Timestamp | None = None
    """When the agent last polled the backend for tasks; null if it never did."""
    timestamp: Timestamp
    """When the heartbeat was sent."""


class DeploymentScheduledReport(ContractModel):
    """Body of `POST /api/v1/deployments/scheduled`: an admin scheduled a release."""

    organization_name: OrganizationName
    """The reporting organization; must be the API key's own."""
    release_id: UUID
    """GCC's release id from the webhook."""
    scheduled_for: Timestamp
    """When the deployment will run."""


class DeploymentStatusReport(ContractModel):
    """Body of `POST /api/v1/deployments/status`: a deployment started, ended or lapsed.

    `status` is one of `downloadFailed`, `inProgress`, `success`, `failed`,
    `rolledBack`, `deadlineExceeded` or `cancelled`.
    """

    organization_name: OrganizationName
    """The reporting organization; must be the API key's own."""
    release_id: UUID
    """GCC's release id of the version deployed (for a rollback: the version rolled back to)."""
    status: Annotated[DeploymentStatus, WithJsonSchema(_REPORTABLE_DEPLOYMENT_STATUS_SCHEMA)]
    """The deployment's status at the organization."""
    deployed_at: Timestamp | None = None
    """When the deployment finished; null while it runs or when it never ran."""
    helm_revision: int | None = Field(default=None, ge=1, le=MAX_STORED_INTEGER)
    """The Helm release revision now running (kubernetes only)."""
    current_version: Version | None = None
    """The version the organization runs after this event."""
    app_version: str | None = Field(default=None, max_length=MAX_APP_VERSION_LENGTH)
    """The application version the agent reported running after this event (spec 5.6
    `appVer`); null when the agent did not say."""
    error_message: str | None = Field(default=None, max_length=MAX_ERROR_MESSAGE_LENGTH)
    """Why the deployment failed."""
    is_rollback: bool = False
    """The deployment was an admin's rollback."""

    @field_validator("status")
    @classmethod
    def _require_reportable_status(cls, status: DeploymentStatus) -> DeploymentStatus:
        if status not in REPORTABLE_DEPLOYMENT_STATUSES:
            allowed = ", ".join(sorted(f"'{value}'" for value in REPORTABLE_DEPLOYMENT_STATUSES))
            raise ValueError(f"a customer backend reports one of {allowed}, not '{status}'")
        return status
