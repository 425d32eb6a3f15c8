"""Admins: the people who receive email and hold Control Tower tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from customer_backend.table_base import TableBase
from servicekit.columns import id_field, timestamp_field


class AdminRole(StrEnum):
    """What an admin may do, with a Control Tower token or in the console."""

    ADMIN = "admin"
    """The customer's admin: everything but changing the essential configuration."""
    SUPPORT = "support"
    """The vendor's support team: what an admin may, and changing the essential configuration."""
    VIEWER = "viewer"
    """Sees everything an admin sees, in the console and through the API, and changes nothing."""


class Admin(TableBase, table=True):
    """An admin of this installation; the token is stored only as a hash."""

    __tablename__ = "admin"
    __table_args__ = (
        sa.CheckConstraint("role IN ('admin', 'support', 'viewer')", name="ck_admin_role_known"),
    )

    id: uuid.UUID = id_field()
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    role: str = Field(default="admin", max_length=50)
    is_active: bool = True
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = timestamp_field(nullable=False)
    deactivated_at: datetime | None = timestamp_field()


ACTING_ROLES = frozenset({AdminRole.ADMIN.value, AdminRole.SUPPORT.value})
"""Roles that may change something; a viewer only looks."""
