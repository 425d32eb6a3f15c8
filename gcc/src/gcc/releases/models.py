"""Releases and their rulesets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Field

from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, json_field, text_field, timestamp_field


class Release(TableBase, table=True):
    """A version CI created; a draft until published."""

    __tablename__ = "release"

    id: uuid.UUID = id_field()
    version: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    status: str = enum_field(default="draft", index=True)
    image_tags: dict[str, str] = json_field(nullable=False)
    is_forced: bool = False
    is_migration_required: bool = False
    estimated_downtime: str | None = Field(default=None, max_length=200)
    min_current_version: str | None = Field(default=None, max_length=100)
    release_notes: str | None = text_field()
    new_non_essential_envs: list[dict[str, Any]] = json_field(nullable=False)
    target_organizations: list[str] | None = json_field()
    created_by: str = Field(max_length=100)
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)
    published_at: datetime | None = timestamp_field()
    deprecated_at: datetime | None = timestamp_field()
