"""Maintenance mode the admins switch outside a deployment (seed 001): recorded with who made
each change, emailed, queued for the agent, reported applied, kept across restarts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from contracts import AgentPollResponse, AgentTaskStatus, DeployTask, MaintenanceTask
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.app import create_app
from customer_backend.deployments.timelines import expire_missed_schedules
from customer_backend.maintenance.models import MaintenanceChange
from customer_backend.settings import Settings
from servicekit.db import SessionFactory
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

MAINTENANCE = "/api/admin/maintenance"
POLL = "/internal/agent/tasks"


async def switch(client: httpx.AsyncClient, admin: Any, enabled: bool, **extra: Any) -> Any:
    response = await client.put(
        MAINTENANCE, json={"enabled": enabled, **extra}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def poll(client: httpx.AsyncClient, headers: dict[str, str]) -> Any:
    response = await client.get(POLL, headers=headers)
    assert response.status_code == 200, response.text
    return AgentPollResponse.model_validate_json(response.content).task


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: object, **body: Any
) -> None:
    response = await client.post(f"{POLL}/{task_id}/status", json=body, headers=headers)
    assert response.status_code == 200, response.text


async def changes(sessions: SessionFactory) -> list[MaintenanceChange]:
    async with sessions() as session:
        result = await session.exec(
            select(MaintenanceChange).order_by(col(MaintenanceChange.changed_at))
        )
        return list(result.all())


async def test_maintenance_mode_is_off_until_an_admin_switches_it(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get(MAINTENANCE, headers=admin.headers)

    assert response.status_code == 200
    assert response.json() == {"enabled": False, "isApplied": True, "current": None, "changes": []}


async def test_switching_on_records_who_queues_a_task_and_emails_the_admins(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    backend_sessions: SessionFactory,
    rows: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory("ada@acme.example")

    state = await switch(backend_client, admin, True, reason="Database upgrade")

    assert state["enabled"] is True
    assert state["isApplied"] is False
    current = state["current"]
    assert current["changedBy"] == "ada@acme.example"
    assert current["reason"] == "Database upgrade"
    assert current["appliedAt"] is None
    [change] = await changes(backend_sessions)
    assert (change.enabled, change.changed_by, change.changed_at) == (
        True,
        "ada@acme.example",
        gcc_clock.now(),
    )
    task = await rows.get(AgentTask, change.task_id)
    assert (task.type, task.status, task.payload) == ("maintenance", "pending", {"enabled": True})
    assert task.created_by == "ada@acme.example"
    [email] = await rows.notifications("maintenance_changed")
    assert email.context["enabled"] is True
    assert email.context["changed_by"] == "ada@acme.example"


async def test_switching_to_the_state_already_asked_for_records_nothing(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    backend_sessions: SessionFactory,
    rows: Any,
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True)

    state = await switch(backend_client, admin, True)
    off_from_the_start = await switch(backend_client, admin, False)

    assert state["enabled"] is True
    assert off_from_the_start["enabled"] is False
    assert len(await changes(backend_sessions)) == 2
    assert len(await rows.notifications("maintenance_changed")) == 2


async def test_a_newer_switch_cancels_the_pending_one(
    backend_client: httpx.AsyncClient, admin_factory: Any, rows: Any
) -> None:
    admin = await admin_factory()
    first = await switch(backend_client, admin, True)

    second = await switch(backend_client, admin, False)

    superseded = await rows.get(AgentTask, uuid.UUID(first["current"]["taskId"]))
    assert superseded.status == AgentTaskStatus.CANCELLED
    assert "Superseded" in superseded.error_message
    latest = await rows.get(AgentTask, uuid.UUID(second["current"]["taskId"]))
    assert (latest.status, latest.payload) == ("pending", {"enabled": False})
    assert [change["enabled"] for change in second["changes"]] == [False, True]


async def test_the_agent_applies_it_on_its_next_poll_and_reports_it_applied(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    agent_headers: dict[str, str],
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True)

    task = await poll(backend_client, agent_headers)
    assert isinstance(task, MaintenanceTask)
    assert task.payload.enabled is True
    gcc_clock.advance(timedelta(seconds=2))
    await report(
        backend_client,
        agent_headers,
        task.id,
        status="completed",
        result={"status": "success", "message": "maintenance mode on"},
    )

    state = (await backend_client.get(MAINTENANCE, headers=admin.headers)).json()
    assert state["isApplied"] is True
    assert state["current"]["appliedAt"] is not None


async def test_a_switch_the_agent_could_not_apply_is_emailed_and_stays_unapplied(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    agent_headers: dict[str, str],
    rows: Any,
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True)
    task = await poll(backend_client, agent_headers)

    await report(
        backend_client,
        agent_headers,
        task.id,
        status="failed",
        errorMessage="maintenance mode is not configured on this agent",
    )

    state = (await backend_client.get(MAINTENANCE, headers=admin.headers)).json()
    assert (state["enabled"], state["isApplied"]) == (True, False)
    [email] = await rows.notifications("maintenance_failed")
    assert email.context["error"] == "maintenance mode is not configured on this agent"
    assert await rows.history() == []


async def test_a_deploy_claimed_while_an_admin_holds_maintenance_on_is_told_to_leave_it_on(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    agent_headers: dict[str, str],
    task_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True)
    applied = await poll(backend_client, agent_headers)
    await report(backend_client, agent_headers, applied.id, status="completed")
    chart = {"bucketPath": "artifacts/helm/wrktalk-2.3.0.tgz", "sha256": "a" * 64}
    await task_factory(
        payload={"version": "2.3.0", "chart": {**chart, "type": "helm", "version": "2.3.0"}},
        execute_after=gcc_clock.now(),
    )

    deploy = await poll(backend_client, agent_headers)

    assert isinstance(deploy, DeployTask)
    assert deploy.maintenance_held is True


async def test_maintenance_mode_never_blocks_a_rollback(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True)

    response = await backend_client.post(
        "/api/admin/deployment/rollback", json={"targetRevision": 2}, headers=admin.headers
    )

    assert response.status_code == 200, response.text


async def test_a_switch_waits_for_an_agent_that_is_away_longer_than_the_grace_window(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    agent_headers: dict[str, str],
    backend_sessions: SessionFactory,
    backend_settings: Settings,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True)
    gcc_clock.advance(timedelta(minutes=backend_settings.schedule_grace_minutes + 5))

    async with backend_sessions() as session:
        missed = await expire_missed_schedules(session, clock=gcc_clock, settings=backend_settings)
        await session.commit()

    assert missed == 0
    task = await poll(backend_client, agent_headers)
    assert isinstance(task, MaintenanceTask)


async def test_the_state_survives_a_restart_of_the_backend(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    backend_settings: Settings,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    await switch(backend_client, admin, True, reason="Storage migration")

    restarted = ServedApp(create_app(backend_settings, clock=gcc_clock))
    restarted.start()
    try:
        async with httpx.AsyncClient(base_url=restarted.base_url) as client:
            state = (await client.get(MAINTENANCE, headers=admin.headers)).json()
    finally:
        restarted.stop()

    assert state["enabled"] is True
    assert state["current"]["reason"] == "Storage migration"


async def test_a_switch_without_a_state_or_with_a_long_reason_is_422(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    missing = await backend_client.put(MAINTENANCE, json={}, headers=admin.headers)
    too_long = await backend_client.put(
        MAINTENANCE, json={"enabled": True, "reason": "x" * 501}, headers=admin.headers
    )
    not_a_bool = await backend_client.put(
        MAINTENANCE, json={"enabled": "maybe"}, headers=admin.headers
    )
    anonymous = await backend_client.put(MAINTENANCE, json={"enabled": True})

    assert (missing.status_code, missing.json()["field"]) == (422, "enabled")
    assert (too_long.status_code, too_long.json()["field"]) == (422, "reason")
    assert (not_a_bool.status_code, not_a_bool.json()["field"]) == (422, "enabled")
    assert anonymous.status_code == 401
