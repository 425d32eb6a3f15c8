"""Every change of maintenance mode an admin made; the newest is the state asked for."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from contracts import MAX_EMAIL_LENGTH, MAX_MAINTENANCE_REASON_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import id_field, timestamp_field


class MaintenanceChange(TableBase, table=True):
    """One switch of maintenance mode: who, when, why, and when the agent applied it."""

    __tablename__ = "maintenance_change"
    __table_args__ = (sa.Index("ix_maintenance_change_changed_at", "changed_at"),)

    id: uuid.UUID = id_field()
    enabled: bool
    reason: str | None = Field(default=None, max_length=MAX_MAINTENANCE_REASON_LENGTH)
    changed_by: str = Field(max_length=MAX_EMAIL_LENGTH)
    changed_at: datetime = timestamp_field(nullable=False)
    task_id: uuid.UUID | None = Field(default=None, foreign_key="agent_task.id", index=True)
    applied_at: datetime | None = timestamp_field()
