"""Run a service's command-line work in one committed transaction.

Operator commands (``gcc org add``, ``customer-backend admin add``, ...) call the same service
functions as the HTTP API. Each runs them here: in one session that commits when the work
succeeds, with an error the operator can act on (and no traceback) when it does not.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.db import create_engine, create_session_factory, session_scope
from servicekit.errors import ServiceError

T = TypeVar("T")

SERVICE_ERROR_EXIT_CODE = 1
"""The service refused the work (a conflict, an unknown name): the operator's input is at fault."""

UNREACHABLE_EXIT_CODE = 2
"""The database (or another system the work needs) could not be used."""


@asynccontextmanager
async def database_session(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session on its own one-connection engine, committed when the block succeeds."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            yield session
    finally:
        await engine.dispose()


def run_command(work: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``work()`` to completion and return its result.

    A :class:`ServiceError` exits with code 1, a database or network failure with code 2,
    each after one ``error: ...`` line on stderr.
    """

    async def main() -> T:
        return await work()

    try:
        return asyncio.run(main())
    except ServiceError as exc:
        where = f" ({exc.field})" if exc.field else ""
        print(f"error{where}: {exc.detail}", file=sys.stderr)
        raise SystemExit(SERVICE_ERROR_EXIT_CODE) from None
    except (OSError, SQLAlchemyError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise SystemExit(UNREACHABLE_EXIT_CODE) from None


def run_in_session(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction on ``database_url`` (see
    :func:`run_command` for the exit codes)."""

    async def main() -> T:
        async with database_session(database_url) as session:
            return await work(session)

    return run_command(main)
