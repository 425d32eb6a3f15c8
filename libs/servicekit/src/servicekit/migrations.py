"""Apply a service's Alembic migrations and tell whether a database is at the latest one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


class DatabaseNotMigrated(RuntimeError):
    """The database is not at the latest migration."""


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    """An Alembic configuration for the migrations in ``migrations_dir``."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """Apply every migration not yet applied."""
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def head_revision(migrations_dir: Path, database_url: str) -> str | None:
    """The newest migration shipped with the code."""
    script = ScriptDirectory.from_config(alembic_config(migrations_dir, database_url))
    return script.get_current_head()


async def current_revision(database_url: str) -> str | None:
    """The migration the database is at (None for an empty database)."""
    engine = create_async_engine(database_url, hide_parameters=True)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def ensure_database_is_current(migrations_dir: Path, database_url: str, command: str) -> None:
    """Raise :class:`DatabaseNotMigrated` unless the database is at the latest migration."""
    current = await current_revision(database_url)
    head = head_revision(migrations_dir, database_url)
    if current != head:
        raise DatabaseNotMigrated(
            f"the database is at migration {current or 'none'} but this code needs {head}: "
            f"run `{command}` first"
        )


def run_environment(target_metadata: MetaData) -> None:
    """The body of a service's Alembic ``env.py``: migrate over the asyncpg engine."""
    from alembic import context

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(
            context.config.get_main_option("sqlalchemy.url") or "", hide_parameters=True
        )
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(
            url=context.config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_online())


class ServiceMigrations:
    """The migrations of one service, in ``migrations_dir``; ``command`` applies them."""

    def __init__(self, migrations_dir: Path, *, command: str) -> None:
        """``command`` is named in the error of a database behind (``gcc migrate``)."""
        self.migrations_dir = migrations_dir
        self.command = command

    def alembic_config(self, database_url: str) -> Config:
        """An Alembic configuration pointing at these migrations."""
        return alembic_config(self.migrations_dir, database_url)

    def upgrade_to_head(self, database_url: str) -> None:
        """Apply every migration not yet applied."""
        upgrade_to_head(self.migrations_dir, database_url)

    async def ensure_database_is_current(self, database_url: str) -> None:
        """Refuse a database that ``command`` has not brought to the latest migration."""
        await ensure_database_is_current(self.migrations_dir, database_url, self.command)
