"""Escalations: situations an operator must look at."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from contracts import MAX_VERSION_LENGTH
from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, json_field, text_field, timestamp_field


class Escalation(TableBase, table=True):
    """Raised once per type, organization and release (``dedupe_key`` is unique)."""

    __tablename__ = "escalation"

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    release_id: uuid.UUID | None = Field(default=None, foreign_key="release.id")
    release_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    """The version of ``release_id``, recorded with the escalation."""
    type: str = enum_field(index=True)
    dedupe_key: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    reason: str = Field(sa_type=sa.Text)
    details: dict[str, Any] | None = json_field()
    escalated_at: datetime = timestamp_field(nullable=False, index=True)
    notified_at: datetime | None = timestamp_field()
    resolved_at: datetime | None = timestamp_field()
    resolution: str | None = text_field()
