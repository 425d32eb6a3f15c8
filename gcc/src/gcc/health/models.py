"""Version history: what each organization ran, and when."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from gcc.table_base import TableBase
from servicekit.columns import id_field, timestamp_field


class VersionHistory(TableBase, table=True):
    """One deployment (or rollback) an organization reported."""

    __tablename__ = "version_history"

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    release_id: uuid.UUID | None = Field(default=None, foreign_key="release.id")
    release_version: str = Field(max_length=100)
    status: str = Field(max_length=32)
    helm_revision: int | None = None
    is_rollback: bool = False
    deployed_at: datetime = timestamp_field(nullable=False)
