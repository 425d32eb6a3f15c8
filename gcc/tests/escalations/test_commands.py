"""`gcc escalations list|resolve` against the test database, as an operator runs them."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from contracts import EscalationType
from gcc.cli import app
from gcc.escalations.models import Escalation
from gcc.escalations.service import raise_escalation
from servicekit.db import SessionFactory, session_scope
from servicekit.output import LINE_WIDTH
from timekeeping import ManualClock

pytestmark = pytest.mark.usefixtures("gcc_command_environment")


async def run(*arguments: str) -> Result:
    """Invoke ``gcc`` in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))


async def escalate(
    sessions: SessionFactory,
    clock: ManualClock,
    organization: Any,
    escalation_type: EscalationType,
    reason: str,
) -> None:
    async with session_scope(sessions) as session:
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=escalation_type,
            organization_id=organization.organization.id,
            reason=reason,
        )
    clock.advance(timedelta(minutes=1))


async def escalation_ids(sessions: SessionFactory) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.exec(Escalation.__table__.select())  # type: ignore[attr-defined]
        return {row.reason: str(row.id) for row in rows}


async def test_list_prints_open_escalations_newest_first_in_100_columns(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    acme = await organization_factory("acme")
    await escalate(gcc_sessions, gcc_clock, acme, EscalationType.LICENSE_EXPIRED, "expired " * 30)
    await escalate(gcc_sessions, gcc_clock, acme, EscalationType.CLIENT_OFFLINE, "silent")

    result = await run("escalations", "list")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "ORGANIZATION", "RAISED", "(UTC)", "REASON"]
    assert [line.split()[1] for line in lines[1:3]] == ["CLIENT_OFFLINE", "LICENSE_EXPIRED"]
    assert all(len(line) <= LINE_WIDTH for line in lines)
    assert lines[-1] == "open escalations 1-2 of 2"


async def test_list_pages_and_filters_like_the_api(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    acme = await organization_factory("acme")
    other = await organization_factory("other")
    kinds = [
        EscalationType.LICENSE_EXPIRED,
        EscalationType.CLIENT_OFFLINE,
        EscalationType.WEBHOOK_REJECTED,
    ]
    for kind in kinds:
        await escalate(gcc_sessions, gcc_clock, acme, kind, f"acme {kind}")
        await escalate(gcc_sessions, gcc_clock, other, kind, f"other {kind}")

    page = await run("escalations", "list", "--organization", "acme", "--limit", "2")
    as_json = await run("escalations", "list", "--type", "CLIENT_OFFLINE", "--json")

    assert page.exit_code == 0, page.output
    assert page.output.splitlines()[-1] == "open escalations 1-2 of 3; next page: --offset 2"
    assert [line.split()[2] for line in page.output.splitlines()[1:3]] == ["acme", "acme"]
    listing = json.loads(as_json.output)
    assert listing["total"] == 2
    assert [entry["reason"] for entry in listing["escalations"]] == [
        "other CLIENT_OFFLINE",
        "acme CLIENT_OFFLINE",
    ]


async def test_resolve_by_the_listed_id_prefix_closes_it_and_the_list_moves_on(
    organization_factory: Any, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    acme = await organization_factory("acme")
    await escalate(gcc_sessions, gcc_clock, acme, EscalationType.CLIENT_OFFLINE, "silent")
    escalation_id = (await escalation_ids(gcc_sessions))["silent"]
    listed = await run("escalations", "list")
    shown_id = listed.output.splitlines()[1].split()[0]

    resolved = await run("escalations", "resolve", shown_id, "--reason", "customer called back")
    again = await run("escalations", "resolve", escalation_id, "--reason", "twice")
    open_ones = await run("escalations", "list")
    resolved_ones = await run("escalations", "list", "--resolved", "--json")

    assert shown_id == escalation_id[:8]
    assert resolved.exit_code == 0, resolved.output
    assert f"resolved CLIENT_OFFLINE of acme ({escalation_id})" in resolved.output
    assert again.exit_code == 1
    assert again.stderr.startswith("error (id): The escalation was resolved already")
    assert open_ones.output.splitlines()[-1] == "no open escalations"
    [entry] = json.loads(resolved_ones.output)["escalations"]
    assert (entry["id"], entry["resolution"]) == (escalation_id, "customer called back")


@pytest.mark.parametrize(
    ("identifier", "reason", "message"),
    [
        ("0123456789", "done", "error (id): There is no escalation whose id starts with 01234"),
        ("abc", "done", "error (id): 'abc' is not an escalation id"),
        ("00000000-0000-0000-0000-000000000000", "done", "error (id): There is no escalation"),
        ("01234567", "", "error (resolution):"),
    ],
)
async def test_resolve_refuses_what_names_no_escalation_in_one_line(
    gcc_sessions: SessionFactory, identifier: str, reason: str, message: str
) -> None:
    result = await run("escalations", "resolve", identifier, "--reason", reason)

    assert result.exit_code in {1, 2}
    [line] = result.stderr.splitlines()
    assert line.startswith(message), line
