"""Audit entries: one row per change, with who made it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from contracts import MAX_EMAIL_LENGTH, MAX_ORGANIZATION_NAME_LENGTH, MAX_VERSION_LENGTH
from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, json_field, timestamp_field


class AuditEntry(TableBase, table=True):
    """A change made through the console, the operator API or a command line.

    Names and versions are copied, not referenced: an organization's name is never reused and
    the trail outlives what it describes.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_occurred", "occurred_at", "id"),
        sa.Index("ix_audit_entry_actor", "actor", "occurred_at"),
        sa.Index("ix_audit_entry_organization", "organization_name", "occurred_at"),
        sa.Index("ix_audit_entry_release", "release_version", "occurred_at"),
    )

    id: uuid.UUID = id_field()
    occurred_at: datetime = timestamp_field(nullable=False)
    actor_kind: str = enum_field()
    """``operator`` (a named person), ``token`` (the shared operator or CI token) or
    ``command`` (a ``gcc`` command on a server)."""
    actor: str = Field(max_length=MAX_EMAIL_LENGTH)
    """The operator's email, or the token's or command's name."""
    operator_id: uuid.UUID | None = Field(default=None, foreign_key="operator.id")
    action: str = Field(max_length=64)
    organization_name: str | None = Field(default=None, max_length=MAX_ORGANIZATION_NAME_LENGTH)
    release_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    escalation_id: uuid.UUID | None = None
    details: dict[str, Any] | None = json_field()
