"""Queries of the organizations domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.organizations.models import Organization, VersionHistory


async def get_by_api_key_hash(session: AsyncSession, api_key_hash: str) -> Organization | None:
    """The active organization holding that API key."""
    result = await session.exec(
        select(Organization).where(
            Organization.api_key_hash == api_key_hash, col(Organization.deleted_at).is_(None)
        )
    )
    return result.first()


async def get_by_name(session: AsyncSession, name: str) -> Organization | None:
    """The active organization of that name."""
    result = await session.exec(
        select(Organization).where(
            Organization.name == name, col(Organization.deleted_at).is_(None)
        )
    )
    return result.first()


async def list_active(session: AsyncSession) -> Sequence[Organization]:
    """Every active organization, by name."""
    result = await session.exec(
        select(Organization)
        .where(col(Organization.deleted_at).is_(None))
        .order_by(col(Organization.name))
    )
    return result.all()


async def name_is_taken(session: AsyncSession, name: str) -> bool:
    """Whether any organization, active or deleted, holds that name (names are never reused,
    so a deleted organization's history stays unambiguous)."""
    result = await session.exec(select(Organization.id).where(Organization.name == name))
    return result.first() is not None


async def list_filtered(
    session: AsyncSession,
    *,
    health_status: str | None = None,
    deployment_type: str | None = None,
) -> Sequence[Organization]:
    """Active organizations by name, optionally of one health state and deployment type."""
    statement = select(Organization).where(col(Organization.deleted_at).is_(None))
    if health_status is not None:
        statement = statement.where(Organization.health_status == health_status)
    if deployment_type is not None:
        statement = statement.where(Organization.deployment_type == deployment_type)
    result = await session.exec(statement.order_by(col(Organization.name)))
    return result.all()


async def count_by_health(session: AsyncSession) -> dict[str, int]:
    """Active organizations per health state."""
    result = await session.exec(
        select(Organization.health_status, func.count())
        .where(col(Organization.deleted_at).is_(None))
        .group_by(col(Organization.health_status))
    )
    return dict(result.all())


async def count_by_version(session: AsyncSession) -> dict[str | None, int]:
    """Active organizations per current version (None: never reported)."""
    result = await session.exec(
        select(Organization.current_version, func.count())
        .where(col(Organization.deleted_at).is_(None))
        .group_by(col(Organization.current_version))
    )
    return dict(result.all())


async def version_history(
    session: AsyncSession, organization_id: uuid.UUID, *, limit: int
) -> Sequence[VersionHistory]:
    """An organization's reported deployments and rollbacks, newest first."""
    result = await session.exec(
        select(VersionHistory)
        .where(VersionHistory.organization_id == organization_id)
        .order_by(col(VersionHistory.deployed_at).desc(), col(VersionHistory.id))
        .limit(limit)
    )
    return result.all()


async def history_exists(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    release_id: uuid.UUID,
    status: str,
    deployed_at: datetime,
) -> bool:
    """Whether this exact deployment was recorded already (a retried report)."""
    result = await session.exec(
        select(VersionHistory.id).where(
            VersionHistory.organization_id == organization_id,
            VersionHistory.release_id == release_id,
            VersionHistory.status == status,
            VersionHistory.deployed_at == deployed_at,
        )
    )
    return result.first() is not None


async def active_names(session: AsyncSession, names: Iterable[str]) -> set[str]:
    """Which of ``names`` are active organizations."""
    wanted = list(set(names))
    if not wanted:
        return set()
    result = await session.exec(
        select(Organization.name).where(
            col(Organization.name).in_(wanted), col(Organization.deleted_at).is_(None)
        )
    )
    return set(result.all())


@dataclass(frozen=True)
class Candidate:
    """What publishing needs to know of an organization."""

    id: uuid.UUID
    name: str
    deployment_type: str
    license_expires_at: datetime | None
    current_version: str | None


async def publish_candidates(session: AsyncSession, names: Sequence[str] | None) -> list[Candidate]:
    """Active organizations, all of them or those named, with the columns the gates read."""
    statement = select(  # type: ignore[call-overload]
        Organization.id,
        Organization.name,
        Organization.deployment_type,
        Organization.license_expires_at,
        Organization.current_version,
    ).where(col(Organization.deleted_at).is_(None))
    if names is not None:
        statement = statement.where(col(Organization.name).in_(list(names)))
    result = await session.exec(statement.order_by(col(Organization.name)))
    return [Candidate(*row) for row in result.all()]
