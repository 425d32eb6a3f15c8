"""The counts a scrape reads: one grouped query per gauge family, over indexed columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

_DELIVERY_BACKLOG = sa.text(
    """
    SELECT
        count(*) FILTER (WHERE next_attempt_at <= :now),
        count(*) FILTER (WHERE webhook_attempts > 0),
        min(created_at)
    FROM deployment_target
    WHERE webhook_acked = false AND webhook_failed = false
    """
)
_ORGANIZATIONS_BY_HEALTH = sa.text(
    "SELECT health_status, count(*) FROM organization WHERE deleted_at IS NULL "
    "GROUP BY health_status"
)
_OPEN_ESCALATIONS = sa.text(
    "SELECT type, count(*), min(escalated_at) FROM escalation WHERE resolved_at IS NULL "
    "GROUP BY type"
)
_RELEASES_BY_STATUS = sa.text("SELECT status, count(*) FROM release GROUP BY status")
_TARGETS_BY_STATUS = sa.text(
    """
    SELECT target.status, count(*) FROM deployment_target AS target
    JOIN release ON release.id = target.release_id
    WHERE release.status = 'published'
    GROUP BY target.status
    """
)


@dataclass(frozen=True)
class DeliveryBacklog:
    """Webhooks not yet acknowledged nor failed."""

    due: int
    waiting_retry: int
    oldest_created_at: datetime | None


@dataclass(frozen=True)
class OpenEscalations:
    """Unresolved escalations of one type."""

    count: int
    oldest_escalated_at: datetime


async def delivery_backlog(session: AsyncSession, *, now: datetime) -> DeliveryBacklog:
    """How many pending webhooks are due, how many wait for a retry, and the oldest one."""
    result = await session.exec(_DELIVERY_BACKLOG, params={"now": now})  # type: ignore[call-overload]
    due, waiting, oldest = result.one()
    return DeliveryBacklog(due=due, waiting_retry=waiting, oldest_created_at=oldest)


async def organizations_by_health(session: AsyncSession) -> dict[str, int]:
    """Active organizations counted by health state."""
    return dict(await _rows(session, _ORGANIZATIONS_BY_HEALTH))


async def open_escalations(session: AsyncSession) -> dict[str, OpenEscalations]:
    """Unresolved escalations by type."""
    rows = await _rows(session, _OPEN_ESCALATIONS)
    return {kind: OpenEscalations(count, oldest) for kind, count, oldest in rows}


async def releases_by_status(session: AsyncSession) -> dict[str, int]:
    """Releases counted by state."""
    return dict(await _rows(session, _RELEASES_BY_STATUS))


async def deployment_targets_by_status(session: AsyncSession) -> dict[str, int]:
    """Deployment targets of published releases counted by deployment status."""
    return dict(await _rows(session, _TARGETS_BY_STATUS))


async def _rows(session: AsyncSession, statement: sa.TextClause) -> list[Any]:
    result = await session.exec(statement)  # type: ignore[call-overload]
    return [tuple(row) for row in result]
