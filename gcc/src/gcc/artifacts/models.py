"""Artifacts: the Helm charts and Compose bundles CI uploads."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from contracts import MAX_VERSION_LENGTH
from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, timestamp_field


class Artifact(TableBase, table=True):
    """One stored file; ``removed_at`` is set when retention deleted its object."""

    __tablename__ = "artifact"
    __table_args__ = (sa.UniqueConstraint("version", "type", name="uq_artifact_version_type"),)

    id: uuid.UUID = id_field()
    version: str = Field(max_length=MAX_VERSION_LENGTH)
    type: str = enum_field()
    bucket_path: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    size_bytes: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = timestamp_field(nullable=False)
    removed_at: datetime | None = timestamp_field()
