"""Fresh PostgreSQL databases on the machine's server, dropped when the session ends."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

T = TypeVar("T")


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop, even when a loop is already running."""
    box: dict[str, T] = {}
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box["value"] = asyncio.run(_await(factory))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return box["value"]


async def _await(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


class PostgresServer:
    """Creates uniquely named databases through an admin DSN and drops them all at the end."""

    def __init__(self, admin_dsn: str) -> None:
        """``admin_dsn`` is a plain ``postgresql://`` DSN with rights to create databases."""
        self.admin_dsn = admin_dsn
        self.created: list[str] = []

    def database_url(self, name: str, *, driver: str = "postgresql+asyncpg") -> str:
        """The URL of database ``name`` on this server, with the given SQLAlchemy driver."""
        parts = urlsplit(self.admin_dsn)
        return urlunsplit((driver, parts.netloc, f"/{name}", parts.query, ""))

    def create_database(self, label: str) -> str:
        """Create an empty database and return its ``postgresql+asyncpg://`` URL."""
        safe_label = "".join(ch if ch.isalnum() else "_" for ch in label.lower())[:20]
        name = f"wrktalk_test_{safe_label}_{uuid.uuid4().hex[:10]}"

        async def create() -> None:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        run_sync(create)
        self.created.append(name)
        return self.database_url(name)

    def drop_all(self) -> None:
        """Drop every database this server object created, disconnecting their clients."""

        async def drop() -> None:
            conn = await asyncpg.connect(self.admin_dsn)
            try:
                for name in self.created:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        if self.created:
            run_sync(drop)
            self.created.clear()
