"""FastAPI dependencies every service shares, read from the runtime the app's lifespan built.

They are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency on every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.db import session_scope
from timekeeping import Clock


async def request_runtime(request: Request) -> Any:
    """The runtime the app's lifespan built; a tier declares it with its own type
    (``Annotated[Runtime, Depends(request_runtime)]``)."""
    return request.app.state.runtime


async def request_settings(request: Request) -> Any:
    """The settings the app was built with; a tier declares them with its own type."""
    return request.app.state.runtime.settings


async def request_clock(request: Request) -> Clock:
    """The clock of the app's runtime (tests inject one they move)."""
    clock: Clock = request.app.state.runtime.clock
    return clock


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A request-scoped session: committed when the route succeeds, rolled back otherwise.

    Declare it with ``Depends(request_session, scope="function")``: the session then commits
    when the route returns, before the response is sent, so a client never sees a 2xx for a
    write that is not committed, and tasks enqueued after the commit are sent first.
    """
    async with session_scope(request.app.state.runtime.session_factory) as session:
        yield session
