"""Database engine and the one place where sessions commit or roll back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

AFTER_COMMIT_KEY = "after_commit"

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(database_url: str, *, pool_size: int = 20) -> AsyncEngine:
    """An asyncpg engine; built once per process.

    Its errors do not quote the statement's parameters (``hide_parameters``): they hold
    secrets (webhook secrets, credentials), and an error's text ends up in the log.
    """
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def after_commit(session: AsyncSession, callback: Callable[[], Any]) -> None:
    """Run ``callback`` once the session's transaction commits; drop it on rollback.

    Services use this to enqueue Celery tasks, so a task never runs against rows that a
    rolled-back request did not keep.
    """
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)


@asynccontextmanager
async def session_scope(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """Open a session, commit when the block succeeds, roll back when it raises.

    Callbacks registered with :func:`after_commit` run after a successful commit.
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
        callback()
