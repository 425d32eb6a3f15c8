"""Operator to GCC: escalations (`/api/operator/escalations`)."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from pydantic import Field

from contracts.base import ContractModel
from contracts.enums import EscalationType
from contracts.primitives import Timestamp
from contracts.versions import Version

__all__ = [
    "MAX_RESOLUTION_LENGTH",
    "EscalationList",
    "EscalationResolveRequest",
    "EscalationView",
]

MAX_RESOLUTION_LENGTH: Final = 10_000
"""Longest accepted resolution text."""


class EscalationView(ContractModel):
    """A situation an operator must look at, raised once per type, organization and release."""

    id: UUID
    """The escalation's id (used to resolve it)."""
    type: EscalationType
    """Why the organization was escalated."""
    organization_name: str
    """The organization concerned."""
    release_id: UUID | None = None
    """The release concerned, if any."""
    release_version: Version | None = None
    """That release's version."""
    reason: str
    """One sentence saying what happened."""
    details: dict[str, Any] | None = None
    """Facts recorded with the escalation."""
    escalated_at: Timestamp
    """When it was raised."""
    notified_at: Timestamp | None = None
    """When the account manager and the GCC admins were emailed; null until then."""
    resolved_at: Timestamp | None = None
    """When an operator resolved it; null while it is open."""
    resolution: str | None = None
    """What the operator did about it."""
    is_open: bool
    """Not resolved yet."""


class EscalationList(ContractModel):
    """Answer to `GET /api/operator/escalations`, newest first."""

    escalations: list[EscalationView]
    """The escalations matching the filters."""
    total: int
    """How many there are."""


class EscalationResolveRequest(ContractModel):
    """Body of `POST /api/operator/escalations/{id}/resolve`."""

    resolution: str = Field(min_length=1, max_length=MAX_RESOLUTION_LENGTH)
    """What was done about it."""
