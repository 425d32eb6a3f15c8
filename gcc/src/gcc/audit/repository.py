"""Queries of the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.audit.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    """What the trail is narrowed to; None is any."""

    actor: str | None = None
    organization_name: str | None = None
    release_version: str | None = None
    action: str | None = None


async def list_page(
    session: AsyncSession,
    where: AuditFilter,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[AuditEntry]:
    """Up to ``limit`` entries matching ``where``, newest first, older than ``before``."""
    statement = select(AuditEntry)
    if where.actor is not None:
        statement = statement.where(AuditEntry.actor == where.actor)
    if where.organization_name is not None:
        statement = statement.where(AuditEntry.organization_name == where.organization_name)
    if where.release_version is not None:
        statement = statement.where(AuditEntry.release_version == where.release_version)
    if where.action is not None:
        statement = statement.where(AuditEntry.action == where.action)
    if before is not None:
        statement = statement.where(
            tuple_(col(AuditEntry.occurred_at), col(AuditEntry.id)) < tuple_(*before)
        )
    statement = statement.order_by(
        col(AuditEntry.occurred_at).desc(), col(AuditEntry.id).desc()
    ).limit(limit)
    return (await session.exec(statement)).all()


async def distinct_actors(session: AsyncSession) -> list[str]:
    """Every actor name in the trail, sorted."""
    result = await session.exec(select(AuditEntry.actor).distinct().order_by(col(AuditEntry.actor)))
    return list(result.all())
