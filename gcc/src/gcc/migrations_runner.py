"""The GCC's migrations (see servicekit.migrations)."""

from __future__ import annotations

from pathlib import Path

from servicekit.migrations import ServiceMigrations

MIGRATIONS = ServiceMigrations(Path(__file__).parent / "migrations", command="gcc migrate")

alembic_config = MIGRATIONS.alembic_config
upgrade_to_head = MIGRATIONS.upgrade_to_head
ensure_database_is_current = MIGRATIONS.ensure_database_is_current
