"""The counts a scrape reads: a few small aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

_OUTBOX = sa.text(
    "SELECT count(*), min(created_at) FROM gcc_outbox WHERE sent_at IS NULL AND refused_at IS NULL"
)
_TASKS_BY_STATUS = sa.text("SELECT status, count(*) FROM agent_task GROUP BY status")
_AGENT_LAST_POLL = sa.text("SELECT last_agent_poll_at FROM installation_state WHERE id = 1")


@dataclass(frozen=True)
class Outbox:
    """Reports to GCC still waiting."""

    depth: int
    oldest_created_at: datetime | None


async def outbox(session: AsyncSession) -> Outbox:
    """How many reports wait for GCC, and when the oldest was written."""
    depth, oldest = (await _exec(session, _OUTBOX)).one()
    return Outbox(depth=depth, oldest_created_at=oldest)


async def tasks_by_status(session: AsyncSession) -> dict[str, int]:
    """Agent tasks counted by state."""
    rows = await _exec(session, _TASKS_BY_STATUS)
    return {str(status): int(total) for status, total in rows.all()}


async def agent_last_poll_at(session: AsyncSession) -> datetime | None:
    """When the agent last polled, if ever."""
    row = (await _exec(session, _AGENT_LAST_POLL)).first()
    return row[0] if row is not None else None


async def _exec(session: AsyncSession, statement: sa.TextClause) -> Any:
    return await session.exec(statement)  # type: ignore[call-overload]
