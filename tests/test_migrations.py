"""Each tier's migrations build exactly the schema its models describe.

A model changed without a migration (or a migration that differs from the model) would pass every
other test, which build their databases from the migrations, and fail in production on the first
query that touches the difference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

import customer_backend.models  # noqa: F401 - every table on the metadata
import gcc.models  # noqa: F401 - every table on the metadata
from customer_backend.table_base import metadata as backend_metadata
from gcc.table_base import metadata as gcc_metadata
from wrktalk_testing.network import free_port


def _differences(connection: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_gcc_migrations_match_the_models(gcc_engine: AsyncEngine) -> None:
    async with gcc_engine.connect() as connection:
        differences = await connection.run_sync(_differences, gcc_metadata)

    assert differences == []


async def test_customer_backend_migrations_match_the_models(backend_engine: AsyncEngine) -> None:
    async with backend_engine.connect() as connection:
        differences = await connection.run_sync(_differences, backend_metadata)

    assert differences == []


@pytest.mark.parametrize(
    ("module", "variable", "command"),
    [
        ("gcc.cli", "GCC_DATABASE_URL", "gcc migrate"),
        ("customer_backend.cli", "WRKTALK_DATABASE_URL", "customer-backend migrate"),
    ],
)
def test_serve_refuses_a_database_that_is_not_migrated(
    create_postgres_database: Callable[[str], str], module: str, variable: str, command: str
) -> None:
    database_url = create_postgres_database(f"unmigrated_{module.split('.')[0]}")

    completed = subprocess.run(
        [sys.executable, "-m", module, "serve", "--port", str(free_port())],
        env={**os.environ, variable: database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert f"run `{command}` first" in completed.stderr
    assert "Traceback" not in completed.stderr
