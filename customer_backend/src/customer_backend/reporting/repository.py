"""Queries of the reporting domain: the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.reporting.models import GccOutboxMessage

OUTBOX_LOCK_KEY = 0x6F7574626F78  # "outbox": one flush at a time keeps the order


async def try_outbox_lock(session: AsyncSession) -> bool:
    """Take the flush lock for this transaction without waiting; False when a flush runs."""
    acquired = await session.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(sa.literal(OUTBOX_LOCK_KEY, sa.BigInteger)))
    )
    return bool(acquired)


async def unfinished_messages(session: AsyncSession, *, limit: int) -> Sequence[GccOutboxMessage]:
    """Messages neither accepted nor refused, in the order they were written."""
    result = await session.exec(
        select(GccOutboxMessage)
        .where(col(GccOutboxMessage.sent_at).is_(None), col(GccOutboxMessage.refused_at).is_(None))
        .order_by(col(GccOutboxMessage.sequence))
        .limit(limit)
    )
    return result.all()


async def mark_sent(session: AsyncSession, *, message_id: uuid.UUID, now: datetime) -> None:
    """GCC accepted the message."""
    await session.exec(
        update(GccOutboxMessage)
        .where(col(GccOutboxMessage.id) == message_id)
        .values(sent_at=now, attempts=GccOutboxMessage.attempts + 1, last_error=None)
    )


async def mark_refused(
    session: AsyncSession, *, message_id: uuid.UUID, now: datetime, error: str
) -> None:
    """GCC refused the message for good."""
    await session.exec(
        update(GccOutboxMessage)
        .where(col(GccOutboxMessage.id) == message_id)
        .values(refused_at=now, attempts=GccOutboxMessage.attempts + 1, last_error=error)
    )


async def mark_failed(
    session: AsyncSession, *, message_id: uuid.UUID, next_attempt_at: datetime, error: str
) -> None:
    """Sending failed for now; try again at ``next_attempt_at``."""
    await session.exec(
        update(GccOutboxMessage)
        .where(col(GccOutboxMessage.id) == message_id)
        .values(
            attempts=GccOutboxMessage.attempts + 1,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )
    )


async def backlog(session: AsyncSession) -> tuple[int, datetime | None, str | None]:
    """How many messages are neither accepted nor refused, the oldest's time, and the error
    of the most recent failed try among them."""
    unfinished = col(GccOutboxMessage.sent_at).is_(None) & col(GccOutboxMessage.refused_at).is_(
        None
    )
    row = (
        await session.exec(
            select(sa.func.count(), sa.func.min(GccOutboxMessage.created_at)).where(unfinished)
        )
    ).one()
    last_error = (
        await session.exec(
            select(GccOutboxMessage.last_error)
            .where(unfinished, col(GccOutboxMessage.last_error).is_not(None))
            .order_by(col(GccOutboxMessage.sequence).desc())
            .limit(1)
        )
    ).first()
    return int(row[0]), row[1], last_error
