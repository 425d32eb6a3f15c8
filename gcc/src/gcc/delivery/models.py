"""Deployment targets: one organization's copy of one release, from webhook to deployment."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, text_field, timestamp_field


class DeploymentTarget(TableBase, table=True):
    """Delivery and deployment state of a release at an organization."""

    __tablename__ = "deployment_target"
    __table_args__ = (
        sa.UniqueConstraint("release_id", "organization_id", name="uq_target_release_org"),
        sa.Index(
            "ix_target_due",
            "next_attempt_at",
            postgresql_where=sa.text("webhook_acked = false AND webhook_failed = false"),
        ),
    )

    id: uuid.UUID = id_field()
    release_id: uuid.UUID = Field(foreign_key="release.id", index=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    webhook_id: str = Field(max_length=64)
    webhook_sent: bool = False
    webhook_acked: bool = False
    webhook_failed: bool = False
    webhook_attempts: int = 0
    webhook_error: str | None = text_field()
    next_attempt_at: datetime | None = timestamp_field()
    lease_expires_at: datetime | None = timestamp_field()
    acked_at: datetime | None = timestamp_field()
    status: str = enum_field(default="pending", index=True)
    scheduled_for: datetime | None = timestamp_field()
    started_at: datetime | None = timestamp_field()
    completed_at: datetime | None = timestamp_field()
    helm_revision: int | None = None
    error_message: str | None = text_field()
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)
