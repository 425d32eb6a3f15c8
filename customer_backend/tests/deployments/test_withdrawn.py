"""A release GCC withdrew: the signed `release.withdrawn` webhook (or the updates poll) marks
it withdrawn, cancels its pending schedule, emails the admins, and scheduling it is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from contracts import AgentTaskStatus, LocalDeploymentStatus, ReleaseWithdrawnWebhook
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.deployments.timelines import run_timelines
from customer_backend.settings import Settings
from servicekit.db import SessionFactory
from signing import build_headers
from testsupport.backend_fixtures import BACKEND_WEBHOOK_SECRET, AdminFactory
from timekeeping import ManualClock

from .test_schedule import ADMIN_EMAIL, ControlTower


@pytest.fixture
async def control_tower(
    backend_client: httpx.AsyncClient, admin_factory: AdminFactory, gcc_clock: ManualClock
) -> ControlTower:
    return ControlTower(backend_client, await admin_factory(ADMIN_EMAIL), gcc_clock)


async def send_withdrawal(
    client: httpx.AsyncClient, clock: ManualClock, release_id: uuid.UUID, **fields: Any
) -> httpx.Response:
    body = (
        ReleaseWithdrawnWebhook(
            release_id=release_id,
            version="2.3.0",  # type: ignore[arg-type]
            withdrawn_at=clock.now(),
            reason="the chart fails on upgrade",
            rollback_version="2.2.0",  # type: ignore[arg-type]
            **fields,
        )
        .model_dump_json()
        .encode()
    )
    headers = build_headers(BACKEND_WEBHOOK_SECRET, f"msg_{uuid.uuid4().hex}", clock.now(), body)
    return await client.post(
        "/api/deployment/webhook",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


async def test_a_withdrawal_cancels_the_schedule_emails_and_refuses_a_new_schedule(
    control_tower: ControlTower, release_factory: Any, rows: Any
) -> None:
    tower = control_tower
    release = await release_factory("2.3.0")
    scheduled = await tower.schedule(release.id)
    assert scheduled.status_code == 200, scheduled.text

    received = await send_withdrawal(tower.client, tower.clock, release.deployment.gcc_release_id)
    repeated = await send_withdrawal(tower.client, tower.clock, release.deployment.gcc_release_id)
    again = await tower.schedule(release.id)
    shown = await tower.client.get(f"/api/admin/deployment/{release.id}", headers=tower.headers)

    assert received.status_code == 200, received.text
    assert repeated.status_code == 200
    deployment = await rows.get(ScheduledDeployment, release.id)
    assert deployment.status == LocalDeploymentStatus.CANCELLED
    assert deployment.withdrawn_at == tower.clock.now()
    assert deployment.rollback_version == "2.2.0"
    (task,) = await rows.tasks()
    assert (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.CANCELLED
    (email,) = await rows.notifications("release_withdrawn")
    assert email.context["was_cancelled"] is True
    assert email.context["reason"] == "the chart fails on upgrade"
    reports = [message.payload for message in await rows.outbox()]
    assert reports[-1]["status"] == "cancelled"
    assert shown.json()["deployment"]["withdrawnAt"] is not None
    assert shown.json()["deployment"]["rollbackVersion"] == "2.2.0"
    assert again.status_code == 409
    assert again.json()["field"] == "deploymentId"
    assert "withdrawn" in again.json()["detail"]


async def test_a_withdrawal_of_an_unknown_release_is_acknowledged_and_changes_nothing(
    control_tower: ControlTower, rows: Any
) -> None:
    response = await send_withdrawal(control_tower.client, control_tower.clock, uuid.uuid4())

    assert response.status_code == 200
    assert await rows.notifications("release_withdrawn") == []


async def test_a_withdrawal_with_a_bad_field_is_422_naming_it(
    control_tower: ControlTower,
) -> None:
    body = b'{"eventType": "release.withdrawn", "releaseId": "nope", "version": "2.3.0"}'
    headers = build_headers(
        BACKEND_WEBHOOK_SECRET, f"msg_{uuid.uuid4().hex}", control_tower.clock.now(), body
    )

    response = await control_tower.client.post(
        "/api/deployment/webhook",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "releaseId"


async def test_a_withdrawn_forced_release_gets_no_reminder_and_no_deadline(
    control_tower: ControlTower,
    release_factory: Any,
    rows: Any,
    backend_sessions: SessionFactory,
    backend_settings: Settings,
) -> None:
    release = await release_factory("2.3.0", is_forced=True)
    await send_withdrawal(
        control_tower.client, control_tower.clock, release.deployment.gcc_release_id
    )
    control_tower.clock.advance(timedelta(hours=25))

    await run_timelines(
        session_factory=backend_sessions, clock=control_tower.clock, settings=backend_settings
    )

    assert [n.event for n in await rows.notifications()] == ["release_withdrawn"]
    deployment = await rows.get(ScheduledDeployment, release.id)
    assert deployment.status == LocalDeploymentStatus.PENDING
