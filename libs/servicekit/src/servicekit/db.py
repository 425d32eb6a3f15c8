"""Database engine and the one place where sessions commit or roll back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.tasks import TaskNotQueued

log = structlog.get_logger(__name__)

AFTER_COMMIT_KEY = "after_commit"

SessionFactory = async_sessionmaker[AsyncSession]


IDLE_PING_AFTER_SECONDS = 5.0
"""A pooled connection idle for longer than this is checked before it is handed out."""

_CHECKED_IN_AT = "checked_in_at"


def create_engine(
    database_url: str, *, pool_size: int = 20, idle_ping_after: float = IDLE_PING_AFTER_SECONDS
) -> AsyncEngine:
    """An asyncpg engine; built once per process.

    Its errors do not quote the statement's parameters (``hide_parameters``): they hold
    secrets (webhook secrets, credentials), and an error's text ends up in the log.

    A connection that has been idle in the pool for more than ``idle_ping_after`` seconds is
    pinged before it is handed out, and replaced when the ping fails (a database restart, a
    connection an idle timeout closed). SQLAlchemy's own ``pool_pre_ping`` pings on every
    checkout, which with asyncpg is three round trips (begin, select, rollback): on the
    busiest routes that doubled the database work of a request. A connection checked in a
    moment ago was just used successfully; if the database went away since, the error of
    the statement makes SQLAlchemy invalidate the whole pool.
    """
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        hide_parameters=True,
    )
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _remember_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at <= idle_ping_after:
            return  # new, or just used
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # the pool discards this connection and checks out (or opens) another
            raise DisconnectionError("pooled connection failed its ping") from exc

    return engine


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def after_commit(session: AsyncSession, callback: Callable[[], Any]) -> None:
    """Run ``callback`` once the session's transaction commits; drop it on rollback.

    Services use this to enqueue Celery tasks, so a task never runs against rows that a
    rolled-back request did not keep. The commit is the decision: a callback that fails (the
    broker is down) is logged and never turns the committed change into an error, so the
    work it nudges must also be found from the database (beat's periodic tasks do that).
    """
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)


@asynccontextmanager
async def session_scope(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """Open a session, commit when the block succeeds, roll back when it raises.

    Callbacks registered with :func:`after_commit` run after a successful commit, each on
    its own: one that raises is logged (``session.after_commit.failed``, or
    ``task.enqueue.failed`` from the task sender) and the others still run.
    """
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            session.info.pop(AFTER_COMMIT_KEY, None)
            await session.rollback()
            raise
        callbacks = session.info.pop(AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        _run_after_commit(callback)


def _run_after_commit(callback: Callable[[], Any]) -> None:
    try:
        callback()
    except TaskNotQueued:
        pass  # the sender logged it, naming the task
    except Exception:
        log.warning(
            "session.after_commit.failed",
            callback=getattr(callback, "__qualname__", repr(callback)),
            exc_info=True,
        )
