"""Scheduled deployments and their history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from contracts import MAX_VERSION_LENGTH, TRACEPARENT_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import enum_field, id_field, json_field, text_field, timestamp_field


class ScheduledDeployment(TableBase, table=True):
    """A release received from GCC, from download through scheduling to its outcome."""

    __tablename__ = "scheduled_deployment"
    __table_args__ = (sa.Index("ix_scheduled_deployment_status_for", "status", "scheduled_for"),)

    id: uuid.UUID = id_field()
    gcc_release_id: uuid.UUID = Field(sa_column_kwargs={"unique": True})
    release_name: str = Field(max_length=120)
    version: str = Field(max_length=MAX_VERSION_LENGTH, index=True)
    release_data: dict[str, Any] = json_field(nullable=False)
    artifact_type: str = enum_field()
    expected_sha256: str = Field(max_length=64)
    is_forced: bool = False
    force_deadline: datetime | None = timestamp_field()
    received_at: datetime = timestamp_field(nullable=False)
    scheduled_for: datetime | None = timestamp_field()
    scheduled_by: str | None = Field(default=None, max_length=320)
    chart_bucket_path: str | None = Field(default=None, max_length=500)
    chart_downloaded: bool = False
    download_attempts: int = 0
    next_download_at: datetime | None = timestamp_field()
    download_error: str | None = text_field()
    status: str = enum_field(default="pending", index=True)
    started_at: datetime | None = timestamp_field()
    completed_at: datetime | None = timestamp_field()
    helm_revision: int | None = None
    error_message: str | None = text_field()
    reported_to_gcc: bool = False
    # The release's trace as this installation carries it on: the webhook's intake, then the
    # download's span; the deploy task continues it.
    trace_parent: str | None = Field(default=None, max_length=TRACEPARENT_LENGTH)
    withdrawn_at: datetime | None = timestamp_field()
    """When GCC withdrew the release: it cannot be scheduled again."""
    withdraw_reason: str | None = text_field()
    rollback_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    """The version GCC says to roll back to, for an installation that deployed it."""
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)


class DeploymentHistory(TableBase, table=True):
    """One finished deployment or rollback.

    Its id is the id of the agent task whose end wrote it (a task ends once), so that a
    rollback, which belongs to no deployment, can be opened with its task and logs.
    """

    __tablename__ = "deployment_history"
    # the history is listed newest first, a page at a time
    __table_args__ = (sa.Index("ix_deployment_history_deployed_at_id", "deployed_at", "id"),)

    id: uuid.UUID = id_field()
    deployment_id: uuid.UUID | None = Field(default=None, foreign_key="scheduled_deployment.id")
    gcc_release_id: uuid.UUID | None = None
    release_name: str = Field(max_length=120)
    version: str = Field(max_length=MAX_VERSION_LENGTH)
    deployed_at: datetime = timestamp_field(nullable=False)
    status: str = Field(max_length=32)
    helm_revision: int | None = None
    config_revision: int | None = None
    is_rollback: bool = False
    is_current: bool = False
