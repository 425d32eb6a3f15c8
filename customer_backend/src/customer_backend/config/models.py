"""Non-essential environment variables and versions of the essential configuration."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from contracts import MAX_ENV_KEY_LENGTH
from customer_backend.table_base import TableBase
from servicekit.columns import id_field, json_field, text_field, timestamp_field


class NonEssentialEnv(TableBase, table=True):
    """A variable admins may change; releases add new ones without overwriting."""

    __tablename__ = "non_essential_env"

    id: uuid.UUID = id_field()
    key: str = Field(max_length=MAX_ENV_KEY_LENGTH, sa_column_kwargs={"unique": True})
    value: str = Field(sa_type=sa.Text)
    description: str | None = text_field()
    category: str | None = Field(default=None, max_length=32)
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)
    updated_by: str | None = Field(default=None, max_length=320)


class EssentialConfigVersion(TableBase, table=True):
    """One revision of the essential configuration (values.yaml for Helm, .env for Compose).

    Each deployment records the revision it ran with, so a rollback uses that one. The row is
    also the audit of the change: who made it, with which role, when, and the keys it added,
    changed and removed (never the values).
    """

    __tablename__ = "essential_config_version"

    id: uuid.UUID = id_field()
    revision: int = Field(sa_column_kwargs={"unique": True})
    kind: str = Field(max_length=16)
    bucket_key: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    created_by: str = Field(max_length=320)
    author_role: str | None = Field(default=None, max_length=16)
    created_at: datetime = timestamp_field(nullable=False)
    is_current: bool = False
    added_keys: list[str] | None = json_field()
    changed_keys: list[str] | None = json_field()
    removed_keys: list[str] | None = json_field()


class NonEssentialEnvChange(TableBase, table=True):
    """One revision of the non-essential variables: a variable added, changed or removed.

    ``id`` is the revision number, increasing with every change (a change rolled back leaves a
    gap). Replaying the changes up to a revision gives the variables as they were then.
    """

    __tablename__ = "non_essential_env_change"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=MAX_ENV_KEY_LENGTH, index=True)
    action: str = Field(max_length=16)
    old_value: str | None = text_field()
    new_value: str | None = text_field()
    changed_by: str | None = Field(default=None, max_length=320)
    changed_at: datetime = timestamp_field(nullable=False)
