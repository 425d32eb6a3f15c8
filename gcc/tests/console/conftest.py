"""Signed-in console clients: an operator (or viewer) with a live session, its cookie set."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from consolekit.sessions import open_session
from contracts import OperatorRole
from gcc.audit.service import Actor
from gcc.console.web import SESSION_COOKIE
from gcc.operators.models import OperatorSession
from gcc.operators.service import add_operator
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

ConsoleClientMaker = Callable[..., Awaitable[httpx.AsyncClient]]


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a console page's forms carry."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@pytest.fixture
async def console_client(
    gcc_server: ServedApp, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> AsyncIterator[ConsoleClientMaker]:
    """Make clients signed in as a new operator of a role; ``client.csrf`` is its token."""
    clients: list[httpx.AsyncClient] = []

    async def make(
        email: str = "alice@vendor.example",
        *,
        name: str = "Alice Ops",
        role: OperatorRole = OperatorRole.OPERATOR,
    ) -> httpx.AsyncClient:
        async with session_scope(gcc_sessions) as session:
            operator = await add_operator(
                session,
                clock=gcc_clock,
                actor=Actor.command_line(),
                email=email,
                name=name,
                role=role,
            )
            token = await open_session(
                session, table=OperatorSession, clock=gcc_clock, principal_id=operator.id
            )
        client = httpx.AsyncClient(
            base_url=gcc_server.base_url, timeout=30, cookies={SESSION_COOKIE: token}
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
