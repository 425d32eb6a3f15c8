"""Artifacts stored in this installation's bucket."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from contracts import MAX_VERSION_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import enum_field, id_field, timestamp_field


class LocalArtifact(TableBase, table=True):
    """A verified artifact in the customer bucket; current and previous are never pruned."""

    __tablename__ = "local_artifact"
    __table_args__ = (
        sa.UniqueConstraint("version", "type", name="uq_local_artifact_version_type"),
    )

    id: uuid.UUID = id_field()
    version: str = Field(max_length=MAX_VERSION_LENGTH)
    type: str = enum_field()
    bucket_key: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    size_bytes: int = Field(sa_type=sa.BigInteger)
    is_current: bool = False
    is_previous: bool = False
    created_at: datetime = timestamp_field(nullable=False)
    removed_at: datetime | None = timestamp_field()
