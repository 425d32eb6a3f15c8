"""Each tier's migrations build exactly the schema its models describe.

A model changed without a migration (or a migration that differs from the model) would pass every
other test, which build their databases from the migrations, and fail in production on the first
query that touches the difference.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import customer_backend.models  # noqa: F401 - every table on the metadata
import gcc.models  # noqa: F401 - every table on the metadata
from customer_backend.table_base import metadata as backend_metadata


def _differences(connection: sa.Connection, metadata: sa.MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_gcc_migrations_match_the_models(gcc_engine: AsyncEngine) -> None:
    async with gcc_engine.connect() as connection:
        differences = await connection.run_sync(_differences, SQLModel.metadata)

    assert differences == []


async def test_customer_backend_migrations_match_the_models(backend_engine: AsyncEngine) -> None:
    async with backend_engine.connect() as connection:
        differences = await connection.run_sync(_differences, backend_metadata)

    assert differences == []
