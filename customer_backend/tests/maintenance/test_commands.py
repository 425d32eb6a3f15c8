"""`customer-backend maintenance status|on|off` against the real database, as an admin runs
them: the same change, agent task and email as the API's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlmodel import select
from typer.testing import CliRunner

from customer_backend.agent_tasks.models import AgentTask
from customer_backend.cli import app
from customer_backend.notifications.models import Notification
from customer_backend.settings import Settings, get_settings
from servicekit.db import SessionFactory

AdminFactory = Callable[..., Any]


@pytest.fixture
def command_environment(
    backend_settings: Settings, backend_sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point the command at the test database, emptied for each test."""
    monkeypatch.setenv("WRKTALK_DATABASE_URL", backend_settings.database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(*arguments: str) -> Result:
    """Invoke the command in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))


async def test_switching_on_records_the_admin_queues_the_agent_task_and_emails_the_admins(
    command_environment: None,
    admin_factory: AdminFactory,
    backend_sessions: SessionFactory,
    backend_client: httpx.AsyncClient,
) -> None:
    admin = await admin_factory(email="ops@acme.example")

    switched = await run("maintenance", "on", "--by", "Ops@Acme.example", "--reason", "DB work")

    assert switched.exit_code == 0, switched.output
    assert "maintenance mode: on (waiting for the agent's next poll)" in switched.output
    assert "ops@acme.example" in switched.output
    async with backend_sessions() as session:
        [task] = (await session.exec(select(AgentTask))).all()
        [email] = (await session.exec(select(Notification))).all()
    assert (task.type, task.payload, task.created_by) == (
        "maintenance",
        {"enabled": True},
        "ops@acme.example",
    )
    assert email.event == "maintenance_changed"
    # The API sees the same state.
    answer = await backend_client.get("/api/admin/maintenance", headers=admin.headers)
    assert answer.json()["enabled"] is True
    assert answer.json()["current"]["reason"] == "DB work"

    status = await run("maintenance", "status", "--json")
    assert status.exit_code == 0, status.output
    view = json.loads(status.output)
    assert (view["enabled"], view["isApplied"]) == (True, False)
    assert [change["changedBy"] for change in view["changes"]] == ["ops@acme.example"]


async def test_asking_for_the_state_already_asked_for_changes_nothing(
    command_environment: None, admin_factory: AdminFactory, backend_sessions: SessionFactory
) -> None:
    await admin_factory(email="ops@acme.example")

    assert (await run("maintenance", "on", "--by", "ops@acme.example")).exit_code == 0
    again = await run("maintenance", "on", "--by", "ops@acme.example")
    off = await run("maintenance", "off", "--by", "ops@acme.example", "--json")

    assert again.exit_code == 0, again.output
    assert off.exit_code == 0, off.output
    assert json.loads(off.output)["enabled"] is False
    async with backend_sessions() as session:
        tasks = (await session.exec(select(AgentTask))).all()
    assert sorted((task.payload["enabled"], task.status) for task in tasks) == [
        (False, "pending"),
        (True, "cancelled"),
    ]


async def test_a_change_by_someone_who_is_no_active_admin_is_refused(
    command_environment: None, backend_sessions: SessionFactory
) -> None:
    refused = await run("maintenance", "on", "--by", "stranger@acme.example")

    assert refused.exit_code == 1
    assert "No active admin has the email stranger@acme.example" in refused.output
    async with backend_sessions() as session:
        assert (await session.exec(select(AgentTask))).all() == []


async def test_status_before_any_change_is_off_and_applied(command_environment: None) -> None:
    status = await run("maintenance", "status")

    assert status.exit_code == 0, status.output
    assert status.output.strip() == "maintenance mode: off (applied by the agent)"
