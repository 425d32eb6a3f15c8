"""`gcc operator add|list|deactivate` against the test database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from gcc.audit.models import AuditEntry
from gcc.operators.commands import operators_app
from gcc.operators.models import Operator, OperatorSession
from gcc.settings import Settings, get_settings
from servicekit.db import SessionFactory
from timekeeping import ManualClock


@pytest.fixture
def command_environment(
    gcc_settings: Settings, gcc_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("GCC_DATABASE_URL", gcc_settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*arguments: str) -> Result:
    """Invoke the command in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, operators_app, list(arguments))


async def test_add_stores_the_address_lowercased_and_records_who_added(
    command_environment: None, gcc_sessions: SessionFactory
) -> None:
    result = await run("add", "--email", " Alice@Vendor.Example ", "--name", "Alice Ops")

    assert result.exit_code == 0, result.output
    async with gcc_sessions() as session:
        operator = (await session.exec(select(Operator))).one()
        entry = (await session.exec(select(AuditEntry))).one()
    assert (operator.email, operator.name, operator.role) == (
        "alice@vendor.example",
        "Alice Ops",
        "operator",
    )
    assert operator.is_active
    assert entry.action == "operator.add"
    assert entry.actor_kind == "command"
    assert entry.actor.startswith("command:")


async def test_the_same_address_twice_is_refused(command_environment: None) -> None:
    await run("add", "--email", "bob@vendor.example", "--name", "Bob")

    again = await run("add", "--email", "BOB@vendor.example", "--name", "Bob again")

    assert again.exit_code != 0
    assert "exists already" in again.output


async def test_an_address_without_a_domain_is_refused(command_environment: None) -> None:
    result = await run("add", "--email", "bob", "--name", "Bob")

    assert result.exit_code != 0
    assert "not an email address" in result.output


async def test_list_shows_roles_and_states(command_environment: None) -> None:
    await run("add", "--email", "carol@vendor.example", "--name", "Carol", "--role", "viewer")
    await run("add", "--email", "dave@vendor.example", "--name", "Dave")
    await run("deactivate", "dave@vendor.example")

    table = await run("list")
    listed = await run("list", "--json")

    assert table.exit_code == 0, table.output
    assert "carol@vendor.example" in table.output
    assert "deactivated" in table.output
    operators = {entry["email"]: entry for entry in json.loads(listed.output)}
    assert operators["carol@vendor.example"]["role"] == "viewer"
    assert operators["dave@vendor.example"]["isActive"] is False


async def test_deactivate_ends_open_sessions(
    command_environment: None, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await run("add", "--email", "erin@vendor.example", "--name", "Erin")
    async with gcc_sessions() as session:
        operator = (await session.exec(select(Operator))).one()
        session.add(
            OperatorSession(
                principal_id=operator.id,
                token_hash="a" * 64,
                created_at=gcc_clock.now(),
                last_seen_at=gcc_clock.now(),
            )
        )
        await session.commit()

    result = await run("deactivate", "erin@vendor.example")
    again = await run("deactivate", "erin@vendor.example")
    unknown = await run("deactivate", "nobody@vendor.example")

    assert result.exit_code == 0, result.output
    async with gcc_sessions() as session:
        browser = (await session.exec(select(OperatorSession))).one()
    assert browser.ended_at is not None
    assert again.exit_code != 0
    assert "deactivated already" in again.output
    assert unknown.exit_code != 0
    assert "no operator" in unknown.output
