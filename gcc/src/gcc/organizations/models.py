"""Organizations: the customers GCC delivers to, and the versions each has run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from contracts import (
    MAX_APP_VERSION_LENGTH,
    MAX_CONTACT_NAME_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_ORGANIZATION_NAME_LENGTH,
    MAX_PHONE_LENGTH,
    MAX_RING_LENGTH,
    MAX_VERSION_LENGTH,
    MAX_WEBHOOK_ENDPOINT_LENGTH,
    HealthStatus,
)
from gcc.table_base import TableBase
from servicekit.columns import enum_field, id_field, timestamp_field

DEFAULT_RING = "general"
"""The ring of an organization nobody placed in one."""


class Organization(TableBase, table=True):
    """One customer installation (the specification's ``organizationalServices``)."""

    __tablename__ = "organization"

    id: uuid.UUID = id_field()
    name: str = Field(
        max_length=MAX_ORGANIZATION_NAME_LENGTH, sa_column_kwargs={"unique": True}, nullable=False
    )
    deployment_type: str = enum_field()
    webhook_endpoint: str = Field(max_length=MAX_WEBHOOK_ENDPOINT_LENGTH)
    webhook_secret: str = Field(max_length=200)
    previous_webhook_secret: str | None = Field(default=None, max_length=200)
    previous_secret_expires_at: datetime | None = timestamp_field()
    api_key_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    license_expires_at: datetime | None = timestamp_field()
    current_version: str | None = Field(default=None, max_length=MAX_VERSION_LENGTH)
    app_version: str | None = Field(default=None, max_length=MAX_APP_VERSION_LENGTH)
    """The application version the agent last reported running (spec 5.6 ``appVer``)."""
    heartbeat_enabled: bool = Field(
        default=True, sa_column_kwargs={"server_default": sa.true()}, nullable=False
    )
    """False while the customer backend says it sends no heartbeats: health is ``unknown``."""
    reported_status: str | None = Field(default=None, max_length=32)
    health_status: str = enum_field(default=str(HealthStatus.UNKNOWN))
    is_online: bool = False
    last_heartbeat_at: datetime | None = timestamp_field()
    last_webhook_ack_at: datetime | None = timestamp_field()
    last_seen_at: datetime | None = timestamp_field()
    agent_last_poll_at: datetime | None = timestamp_field()
    spoc_name: str | None = Field(default=None, max_length=MAX_CONTACT_NAME_LENGTH)
    spoc_email: str | None = Field(default=None, max_length=MAX_EMAIL_LENGTH)
    spoc_phone: str | None = Field(default=None, max_length=MAX_PHONE_LENGTH)
    account_manager_email: str | None = Field(default=None, max_length=MAX_EMAIL_LENGTH)
    ring: str = Field(
        default=DEFAULT_RING,
        max_length=MAX_RING_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_RING},
        nullable=False,
    )
    """The rollout ring (one of ``GCC_ROLLOUT_RINGS``) a phased rollout groups it by."""
    created_at: datetime = timestamp_field(nullable=False)
    updated_at: datetime = timestamp_field(nullable=False)
    deleted_at: datetime | None = timestamp_field()

    # Heartbeats and the health classification rewrite rows all day: free room in each page
    # (fillfactor) and no index on the columns they change (health_status included) let
    # PostgreSQL update in place (HOT) instead of adding an entry to every index each time.
    # Half a page free leaves room for a new version of every row of the page, so that even
    # a classification that changes the whole fleet at once stays in place (migration 0002).
    __table_args__ = (
        sa.Index("ix_organization_active_type", "deployment_type", "deleted_at"),
        # the console's search: a name containing what was typed (migration 0009)
        sa.Index(
            "ix_organization_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        {"postgresql_with": {"fillfactor": 50}},
    )


VERSION_ORDER_FUNCTION = "semver_order_key"
"""A SQL function (migration 0013) giving the text key that orders semantic versions
numerically (2.10.0 after 2.9.0): each part of major.minor.patch left-padded, then the whole
text (prerelease and build); NULL for no version. Immutable, so the fleet list's order by it
is read from an index."""


def version_order_key(version: Any) -> sa.ColumnElement[str]:
    """The version order key of the ``version`` column (see :data:`VERSION_ORDER_FUNCTION`)."""
    key: sa.ColumnElement[str] = sa.func.semver_order_key(version, type_=sa.Text)
    return key


_organizations = Organization.__table__  # type: ignore[attr-defined]
_active = _organizations.c.deleted_at.is_(None)
# The console's fleet list, sorted by version, license or deployment type (migration 0013):
# each order has an index that reads its first page without sorting the fleet, in both
# directions (never-reported and unlicensed organizations last either way). These columns
# change on a deployment or a license edit only. Health and last seen have none: heartbeats
# change them all day, and an index on them would end the in-place (HOT) updates above.
for _name, _key in (
    ("version", version_order_key(_organizations.c.current_version)),
    ("license", _organizations.c.license_expires_at),
    ("type", _organizations.c.deployment_type),
):
    sa.Index(
        f"ix_organization_{_name}_order_asc",
        _key.asc().nulls_last(),
        _organizations.c.name,
        postgresql_where=_active,
    )
    sa.Index(
        f"ix_organization_{_name}_order_desc",
        _key.desc().nulls_last(),
        _organizations.c.name,
        postgresql_where=_active,
    )
sa.Index(
    "ix_organization_current_version",
    _organizations.c.current_version,
    postgresql_where=_active,
)


class VersionHistory(TableBase, table=True):
    """One deployment (or rollback) an organization reported."""

    __tablename__ = "version_history"

    id: uuid.UUID = id_field()
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    release_id: uuid.UUID | None = Field(default=None, foreign_key="release.id")
    release_version: str = Field(max_length=MAX_VERSION_LENGTH)
    status: str = Field(max_length=32)
    helm_revision: int | None = None
    app_version: str | None = Field(default=None, max_length=MAX_APP_VERSION_LENGTH)
    is_rollback: bool = False
    deployed_at: datetime = timestamp_field(nullable=False)
