"""Column helpers for SQLModel tables: UUID keys, aware timestamps, JSONB, text, enum strings."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field


def id_field() -> Any:
    """A UUID primary key generated in Python."""
    return Field(default_factory=uuid.uuid4, primary_key=True)


def timestamp_field(*, nullable: bool = True, index: bool = False) -> Any:
    """A timezone-aware timestamp column; services set it from their clock."""
    return Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),
        nullable=nullable,
        index=index,
    )


def json_field(*, nullable: bool = True) -> Any:
    """A JSONB column."""
    return Field(default=None, sa_type=JSONB, nullable=nullable)


def text_field() -> Any:
    """An unbounded, optional text column."""
    return Field(default=None, sa_type=sa.Text, nullable=True)


def enum_field(*, default: Any = None, index: bool = False) -> Any:
    """A string column holding a contract enum value (no PostgreSQL enum type to migrate)."""
    return Field(default=default, sa_type=sa.String(32), nullable=False, index=index)
