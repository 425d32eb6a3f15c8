"""Control Tower to customer backend: maintenance mode switched by an admin (seed 001)."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from pydantic import Field

from contracts.base import ContractModel
from contracts.primitives import Timestamp

__all__ = [
    "MAX_MAINTENANCE_REASON_LENGTH",
    "MaintenanceChangeView",
    "MaintenanceModeUpdate",
    "MaintenanceModeView",
]

MAX_MAINTENANCE_REASON_LENGTH: Final = 500
"""Longest reason an admin may give for a change."""


class MaintenanceModeUpdate(ContractModel):
    """Body of `PUT /api/admin/maintenance`."""

    enabled: bool
    """Switch maintenance mode on (true) or off (false)."""
    reason: str | None = Field(default=None, max_length=MAX_MAINTENANCE_REASON_LENGTH)
    """Why, for the record and the admins' email."""


class MaintenanceChangeView(ContractModel):
    """One change of maintenance mode, with who made it and whether the agent applied it."""

    id: UUID
    """The change's id."""
    enabled: bool
    """The state it switched to."""
    reason: str | None = None
    """Why, as the admin wrote it."""
    changed_by: str
    """Email of the admin who made it."""
    changed_at: Timestamp
    """When it was made."""
    task_id: UUID | None = None
    """The agent task that applies it."""
    applied_at: Timestamp | None = None
    """When the agent reported it applied; null until then."""


class MaintenanceModeView(ContractModel):
    """Answer to `GET` and `PUT /api/admin/maintenance`."""

    enabled: bool
    """The state admins asked for last (off when nobody ever switched it)."""
    is_applied: bool
    """The agent reported that it applied that state."""
    current: MaintenanceChangeView | None = None
    """The latest change; null when nobody ever switched it."""
    changes: list[MaintenanceChangeView] = Field(default_factory=list)
    """The latest changes, newest first."""
