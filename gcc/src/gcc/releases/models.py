"""Releases and the deployment targets they are sent to."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from contracts import (
    MAX_ESTIMATED_DOWNTIME_LENGTH,
    MAX_VERSION_LENGTH,
    TRACEPARENT_LENGTH,
    DeploymentStatus,
    ReleaseStatus,
)
from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, json_field, text_field, timestamp_field


class Release(TableBase, table=True):
    """A version CI created; a draft until published."""

    __tablename__ = "release"

    id: uuid.UUID = id_field()
    version: str = Field(max_length=MAX_VERSION_LENGTH, sa_column_kwargs={"unique": True})
    status: str = enum_field(default=str(ReleaseStatus.DRAFT), index=True)
    image_tags: dict[str, str] = json_field(nullable=False)
    is_forced: bool = False
    is_migration_required: bool = False
    estimated_downtime: str | None = Field(default=None, max_length=MAX_ESTIMATED_DOWNTIME_LENGTH)
    min_current_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    release_notes: str | None = text_field()
    new_non_essential_envs: list[dict[str, Any]] = json_field(nullable=False)
    target_organizations: list[str] | None = json_field()
    created_by: str = Field(max_length=100)
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)
    published_at: datetime | None = timestamp_field()
    deprecated_at: datetime | None = timestamp_field()
    signed_manifest: dict[str, Any] | None = json_field()
    """The ``SignedManifest`` signed at publish; null for a release published unsigned."""
    # The publication's span: each webhook delivery, and all that follows it at the customer,
    # continues this trace.
    trace_parent: str | None = Field(default=None, max_length=TRACEPARENT_LENGTH)
    withdrawn_at: datetime | None = timestamp_field()
    """When an operator withdrew the published release (it is deprecated too)."""
    withdraw_reason: str | None = text_field()
    rollback_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    """At withdrawal: the newest published version older than this one."""


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
        # targets of a rollout wave not notified yet (migration 0012)
        sa.Index(
            "ix_target_waiting",
            "release_id",
            postgresql_where=sa.text("wave_notified_at IS NULL"),
        ),
        # the pump's retry lane (migration 0007)
        sa.Index(
            "ix_target_retry_due",
            "next_attempt_at",
            postgresql_where=sa.text(
                "webhook_acked = false AND webhook_failed = false AND webhook_attempts > 0"
            ),
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
    status: str = enum_field(default=str(DeploymentStatus.PENDING), index=True)
    scheduled_for: datetime | None = timestamp_field()
    started_at: datetime | None = timestamp_field()
    completed_at: datetime | None = timestamp_field()
    helm_revision: int | None = None
    error_message: str | None = text_field()
    wave: int = Field(default=0, sa_column_kwargs={"server_default": "0"}, nullable=False)
    """The rollout wave the organization belongs to (0 for a release without a plan)."""
    wave_notified_at: datetime | None = timestamp_field()
    """When the target's wave was notified (its webhook became due); null while the wave
    waits. A forced release's deadline counts from here."""
    health_before: str | None = Field(default=None, max_length=16)
    """The organization's health when its wave was notified (rollouts' health gate)."""
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)


class Rollout(TableBase, table=True):
    """The phased rollout of a release published with a plan."""

    __tablename__ = "rollout"

    release_id: uuid.UUID = Field(foreign_key="release.id", primary_key=True)
    plan: list[dict[str, Any]] = json_field(nullable=False)
    """The waves, as ``RolloutWave`` JSON."""
    state: str = enum_field(default="running")
    current_wave: int = 0
    """The last wave notified."""
    notified_at: list[str] = json_field(nullable=False)
    """When each wave notified so far was notified (ISO 8601), by wave."""
    halts: list[dict[str, Any]] = json_field(nullable=False)
    """Every halt, as ``RolloutHaltView`` JSON, oldest first."""
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)
