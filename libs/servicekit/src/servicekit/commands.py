"""Run a service's command-line work in one committed transaction.

Operator commands (``gcc org add``, ``customer-backend admin add``, ...) call the same service
functions as the HTTP API. Each runs them here: in one session that commits when the work
succeeds, with an error the operator can act on (and no traceback) when it does not
(:mod:`servicekit.failures`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import field_from_location
from servicekit.db import create_engine, create_session_factory, session_scope
from servicekit.failures import REFUSED_EXIT_CODE, UNUSABLE_EXIT_CODE

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

SERVICE_ERROR_EXIT_CODE = REFUSED_EXIT_CODE
"""The service refused the work (a conflict, an unknown name): the operator's input is at fault."""

UNREACHABLE_EXIT_CODE = UNUSABLE_EXIT_CODE
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


def validated(model: type[M], raw: dict[str, Any]) -> M:
    """A command's options as the API's request body (``model``); when the body is refused,
    print the first refusal naming its field and exit 2, as a usage error."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = field_from_location(first["loc"])
        typer.echo(f"error{f' ({field})' if field else ''}: {first['msg']}", err=True)
        raise typer.Exit(code=2) from exc


def run_command(work: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``work()`` to completion and return its result.

    What fails is raised; the command's group (:mod:`servicekit.failures`) turns it into one
    ``error: ...`` line and exit code 1 for a refused request (a
    :class:`~servicekit.errors.ServiceError`), 2 for an unusable setting or a database or
    network failure.
    """

    async def main() -> T:
        return await work()

    return asyncio.run(main())


def run_in_session(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction on ``database_url`` (see
    :func:`run_command` for the exit codes)."""

    async def main() -> T:
        async with database_session(database_url) as session:
            return await work(session)

    return run_command(main)
