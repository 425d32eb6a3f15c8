"""Queries of the organizations domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.organizations.models import Organization, VersionHistory, version_order_key


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
    current_version: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Organization]:
    """Active organizations by name, optionally of one health state, deployment type and
    current version, a page of ``limit`` after ``offset``."""
    statement = _active_filtered(
        select(Organization), health_status, deployment_type, current_version
    )
    statement = statement.order_by(col(Organization.name)).offset(offset)
    result = await session.exec(statement if limit is None else statement.limit(limit))
    organizations: Sequence[Organization] = result.all()
    return organizations


async def count_filtered(
    session: AsyncSession,
    *,
    health_status: str | None = None,
    deployment_type: str | None = None,
    current_version: str | None = None,
) -> int:
    """How many organizations :func:`list_filtered` finds without a page."""
    statement = _active_filtered(
        select(func.count()).select_from(Organization),
        health_status,
        deployment_type,
        current_version,
    )
    return int((await session.exec(statement)).one())


def _active_filtered(
    statement: Any,
    health_status: str | None,
    deployment_type: str | None,
    current_version: str | None,
) -> Any:
    statement = statement.where(col(Organization.deleted_at).is_(None))
    if health_status is not None:
        statement = statement.where(Organization.health_status == health_status)
    if deployment_type is not None:
        statement = statement.where(Organization.deployment_type == deployment_type)
    if current_version is not None:
        statement = statement.where(Organization.current_version == current_version)
    return statement


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
    ring: str = "general"


async def publish_candidates(session: AsyncSession, names: Sequence[str] | None) -> list[Candidate]:
    """Active organizations, all of them or those named, with the columns the gates read."""
    statement = select(  # type: ignore[call-overload]
        Organization.id,
        Organization.name,
        Organization.deployment_type,
        Organization.license_expires_at,
        Organization.current_version,
        Organization.ring,
    ).where(col(Organization.deleted_at).is_(None))
    if names is not None:
        statement = statement.where(col(Organization.name).in_(list(names)))
    result = await session.exec(statement.order_by(col(Organization.name)))
    return [Candidate(*row) for row in result.all()]


async def count_by_health_and_version(session: AsyncSession) -> list[tuple[str, str | None, int]]:
    """Active organizations per (health state, current version), in one pass over the table."""
    result = await session.exec(
        select(Organization.health_status, Organization.current_version, func.count())
        .where(col(Organization.deleted_at).is_(None))
        .group_by(col(Organization.health_status), col(Organization.current_version))
    )
    return [(health, version, int(count)) for health, version, count in result.all()]


@dataclass(frozen=True)
class FleetFilter:
    """What the console's organization list is narrowed to; None is any."""

    search: str | None = None
    """Part of the name, any case."""
    health_status: str | None = None
    current_version: str | None = None
    """A version, or the empty string for organizations that never reported one."""
    deployment_type: str | None = None
    license_state: str | None = None
    """``expired``, ``expiring`` (within ``expiring_within``), ``valid`` or ``perpetual``."""
    now: datetime | None = None
    expiring_within: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class FleetRow:
    """The columns the fleet list shows of one organization."""

    name: str
    deployment_type: str
    health_status: str
    current_version: str | None
    app_version: str | None
    license_expires_at: datetime | None
    last_seen_at: datetime | None


def _escaped_like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


FLEET_SORTS: dict[str, Any] = {
    "name": col(Organization.name),
    "health": col(Organization.health_status),
    "version": version_order_key(col(Organization.current_version)),
    "license": col(Organization.license_expires_at),
    "lastSeen": col(Organization.last_seen_at),
    "type": col(Organization.deployment_type),
}
"""The columns the fleet list can be sorted by; the name breaks every tie."""


def _fleet_where(statement: Any, where: FleetFilter) -> Any:
    statement = statement.where(col(Organization.deleted_at).is_(None))
    if where.search:
        statement = statement.where(col(Organization.name).ilike(_escaped_like(where.search)))
    if where.health_status is not None:
        statement = statement.where(Organization.health_status == where.health_status)
    if where.current_version == "":
        statement = statement.where(col(Organization.current_version).is_(None))
    elif where.current_version is not None:
        statement = statement.where(Organization.current_version == where.current_version)
    if where.deployment_type is not None:
        statement = statement.where(Organization.deployment_type == where.deployment_type)
    if where.license_state is not None and where.now is not None:
        expires = col(Organization.license_expires_at)
        soon = where.now + where.expiring_within
        statement = statement.where(
            {
                "expired": expires < where.now,
                "expiring": (expires >= where.now) & (expires < soon),
                "valid": expires >= soon,
                "perpetual": expires.is_(None),
            }[where.license_state]
        )
    return statement


async def fleet_count(session: AsyncSession, where: FleetFilter) -> int:
    """How many active organizations match."""
    statement = _fleet_where(select(func.count()).select_from(Organization), where)
    return int((await session.exec(statement)).one())


async def fleet_rows(
    session: AsyncSession,
    where: FleetFilter,
    *,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> list[FleetRow]:
    """One page of matching organizations, sorted by ``sort`` (a key of :data:`FLEET_SORTS`),
    never-seen and unlicensed ones last whichever the direction."""
    key = FLEET_SORTS[sort]
    ordered = key.desc().nulls_last() if descending else key.asc().nulls_last()
    statement = _fleet_where(
        select(  # type: ignore[call-overload]
            Organization.name,
            Organization.deployment_type,
            Organization.health_status,
            Organization.current_version,
            Organization.app_version,
            Organization.license_expires_at,
            Organization.last_seen_at,
        ),
        where,
    )
    if sort != "name":
        statement = statement.order_by(ordered, col(Organization.name))
    else:
        statement = statement.order_by(ordered)
    result = await session.exec(statement.limit(limit).offset(offset))
    return [FleetRow(*row) for row in result.all()]
