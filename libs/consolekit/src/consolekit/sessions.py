"""Server-side console sessions with an idle expiry.

The cookie holds a random token; the table holds its hash, whose person it is, and when it
was last used. A session ends when it is idle for longer than the tier's idle limit, when the
person signs out, or when the person is deactivated (:func:`end_sessions_of`). Keeping the
session on the server is what makes signing out real: a copied cookie stops working too.

The tier owns the table: ``class ConsoleSession(TierTableBase, ConsoleSessionFields,
table=True)``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.secrets import new_token, token_digest
from timekeeping import Clock

SESSION_IDLE_LIMIT = timedelta(hours=8)
"""How long a session may go unused before it ends, unless the tier says otherwise."""

TOUCH_INTERVAL = timedelta(minutes=1)
"""A session's last use is written at most this often, so a page of requests costs one write."""


class ConsoleSessionFields(SQLModel):
    """The columns of a tier's console session table."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    principal_id: uuid.UUID = Field(index=True)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    last_seen_at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    ended_at: datetime | None = Field(
        default=None, sa_type=sa.DateTime(timezone=True), nullable=True
    )


S = TypeVar("S", bound=ConsoleSessionFields)


async def open_session(
    session: AsyncSession, *, table: type[S], clock: Clock, principal_id: uuid.UUID
) -> str:
    """Start a session for ``principal_id`` and return its token, for the cookie only."""
    token = new_token()
    now = clock.now()
    session.add(
        table(
            token_hash=token_digest(token),
            principal_id=principal_id,
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return token


async def resume_session(
    session: AsyncSession,
    *,
    table: type[S],
    clock: Clock,
    token: str,
    idle_limit: timedelta = SESSION_IDLE_LIMIT,
) -> S | None:
    """The live session with ``token``, its last use moved to now; None if there is none.

    A session idle for ``idle_limit`` or longer is ended here and None is returned.
    """
    result = await session.exec(
        select(table).where(
            col(table.token_hash) == token_digest(token), col(table.ended_at).is_(None)
        )
    )
    found = result.first()
    if found is None:
        return None
    now = clock.now()
    if now - found.last_seen_at >= idle_limit:
        found.ended_at = found.last_seen_at + idle_limit
        session.add(found)
        await session.flush()
        return None
    if now - found.last_seen_at >= TOUCH_INTERVAL:
        found.last_seen_at = now
        session.add(found)
        await session.flush()
    return found


async def end_session(session: AsyncSession, *, table: type[S], clock: Clock, token: str) -> bool:
    """End the session with ``token`` (signing out); False if it was not live."""
    statement = (
        update(table)
        .where(col(table.token_hash) == token_digest(token), col(table.ended_at).is_(None))
        .values(ended_at=clock.now())
    )
    result = await session.exec(statement)
    return bool(result.rowcount)


async def end_sessions_of(
    session: AsyncSession, *, table: type[S], clock: Clock, principal_id: uuid.UUID
) -> int:
    """End every live session of ``principal_id`` (deactivated, or role changed)."""
    statement = (
        update(table)
        .where(col(table.principal_id) == principal_id, col(table.ended_at).is_(None))
        .values(ended_at=clock.now())
    )
    result = await session.exec(statement)
    return int(result.rowcount or 0)
