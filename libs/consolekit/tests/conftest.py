"""Tables built from the library's field sets on a fresh database, as a tier would declare them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.sessions import ConsoleSessionFields
from consolekit.signin import SignInLinkFields


class KitTableBase(SQLModel, registry=registry()):
    """A metadata of the tests' own, as each tier has."""


class KitSignInLink(KitTableBase, SignInLinkFields, table=True):
    __tablename__ = "kit_sign_in_link"


class KitSession(KitTableBase, ConsoleSessionFields, table=True):
    __tablename__ = "kit_console_session"


@pytest.fixture(scope="session")
async def kit_engine(create_postgres_database) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    engine = create_async_engine(create_postgres_database("consolekit"))
    async with engine.begin() as connection:
        await connection.run_sync(KitTableBase.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(kit_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test."""
    async with kit_engine.connect() as connection:
        transaction = await connection.begin()
        factory = async_sessionmaker(
            bind=connection,
            class_=AsyncSession,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        async with factory() as session:
            yield session
        await transaction.rollback()
