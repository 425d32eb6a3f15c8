"""The customer backend's migrations (see servicekit.migrations)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from servicekit import migrations

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at the customer backend migrations."""
    return migrations.alembic_config(MIGRATIONS_DIR, database_url)


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration not yet applied."""
    migrations.upgrade_to_head(MIGRATIONS_DIR, database_url)


async def ensure_database_is_current(database_url: str) -> None:
    """Refuse a database that ``customer-backend migrate`` has not brought up to date."""
    await migrations.ensure_database_is_current(
        MIGRATIONS_DIR, database_url, "customer-backend migrate"
    )
