"""Timelines driven by the clock: task timeout, missed schedule, forced updates, agent offline."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from celery.contrib.testing.worker import start_worker

from contracts import AgentTaskStatus, LocalDeploymentStatus
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.deployments.timelines import TASK_TIMEOUT_MESSAGE, run_timelines
from customer_backend.settings import Settings
from customer_backend.worker import celery_app, configure_celery, use_clock
from servicekit.db import SessionFactory
from timekeeping import ManualClock


@pytest.fixture
def run(
    backend_sessions: SessionFactory, gcc_clock: ManualClock, backend_settings: Settings
) -> Any:
    """One beat run of the timelines at the clock's current time."""

    async def once() -> dict[str, int]:
        outcome = await run_timelines(
            session_factory=backend_sessions, clock=gcc_clock, settings=backend_settings
        )
        return outcome.as_dict()

    return once


async def test_task_without_heartbeat_for_thirty_minutes_fails(
    release_factory: Any, task_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    release = await release_factory("2.3.0", status="inProgress")
    task = await task_factory(
        deployment_id=release.id,
        status="inProgress",
        picked_up_at=gcc_clock.now(),
        payload={"version": "2.3.0", "values": {"bucketPath": "config/values.r1.yaml"}},
    )
    gcc_clock.advance(timedelta(minutes=31))

    outcome = await run()

    assert outcome["timedOutTasks"] == 1
    stored = await rows.get(AgentTask, task.id)
    assert stored.status == AgentTaskStatus.FAILED
    assert stored.error_message == TASK_TIMEOUT_MESSAGE
    deployment = await rows.get(ScheduledDeployment, release.id)
    assert deployment.status == LocalDeploymentStatus.FAILED
    assert deployment.error_message == TASK_TIMEOUT_MESSAGE
    [history] = await rows.history()
    assert (history.version, history.status, history.deployment_id) == (
        "2.3.0",
        "failed",
        release.id,
    )
    [report] = await rows.outbox()
    assert report.payload["status"] == "failed"
    assert report.payload["errorMessage"] == TASK_TIMEOUT_MESSAGE
    assert report.payload["releaseId"] == str(release.deployment.gcc_release_id)
    [email] = await rows.notifications("task_timeout")
    assert email.context["task_id"] == str(task.id)


async def test_task_with_a_recent_heartbeat_does_not_time_out(
    release_factory: Any, task_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    release = await release_factory("2.3.0", status="inProgress")
    now = gcc_clock.now()
    task = await task_factory(
        deployment_id=release.id,
        status="inProgress",
        picked_up_at=now - timedelta(hours=2),
        last_heartbeat_at=now - timedelta(minutes=29),
    )

    await run()

    assert (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.IN_PROGRESS
    assert await rows.notifications() == []


async def test_task_timeout_follows_the_configured_minutes(
    release_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
    backend_sessions: SessionFactory,
    backend_settings: Settings,
) -> None:
    settings = backend_settings.model_copy(update={"task_timeout_minutes": 5.0})
    release = await release_factory("2.3.0", status="inProgress")
    await task_factory(deployment_id=release.id, status="inProgress", picked_up_at=gcc_clock.now())

    gcc_clock.advance(timedelta(minutes=4))
    early = await run_timelines(
        session_factory=backend_sessions, clock=gcc_clock, settings=settings
    )
    gcc_clock.advance(timedelta(minutes=2))
    late = await run_timelines(session_factory=backend_sessions, clock=gcc_clock, settings=settings)

    assert (early.as_dict()["timedOutTasks"], late.as_dict()["timedOutTasks"]) == (0, 1)


async def test_task_timeout_is_reported_once_when_the_timelines_run_twice(
    release_factory: Any, task_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    release = await release_factory("2.3.0", status="inProgress")
    await task_factory(deployment_id=release.id, status="inProgress", picked_up_at=gcc_clock.now())
    gcc_clock.advance(timedelta(minutes=31))

    await run()
    gcc_clock.advance(timedelta(minutes=1))
    await run()

    assert len(await rows.outbox()) == 1
    assert len(await rows.notifications("task_timeout")) == 1
    assert len(await rows.history()) == 1


async def test_scheduled_deployment_not_picked_up_within_grace_becomes_missed_schedule(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
    run: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    when = gcc_clock.now() + timedelta(minutes=10)
    scheduled = await backend_client.post(
        "/api/admin/deployment/schedule",
        json={"deploymentId": str(release.id), "scheduledFor": when.isoformat()},
        headers=admin.headers,
    )
    task_id = uuid.UUID(scheduled.json()["taskId"])
    gcc_clock.advance(timedelta(minutes=10 + 15))

    await run()
    assert (await rows.get(ScheduledDeployment, release.id)).status == "scheduled"
    gcc_clock.advance(timedelta(minutes=1))
    await run()
    await run()

    assert (await rows.get(ScheduledDeployment, release.id)).status == "missedSchedule"
    assert (await rows.get(AgentTask, task_id)).status == AgentTaskStatus.CANCELLED
    [email] = await rows.notifications("missed_schedule")
    assert email.context["version"] == "2.3.0"


async def test_missed_deployment_can_be_rescheduled(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
    run: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", status="scheduled")
    await task_factory(deployment_id=release.id, execute_after=gcc_clock.now())
    gcc_clock.advance(timedelta(minutes=16))
    await run()

    response = await backend_client.post(
        "/api/admin/deployment/schedule",
        json={
            "deploymentId": str(release.id),
            "scheduledFor": (gcc_clock.now() + timedelta(hours=1)).isoformat(),
        },
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text


async def test_rollback_task_not_picked_up_within_grace_is_cancelled(
    task_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    task = await task_factory(type="rollback", payload={"targetRevision": 4})
    gcc_clock.advance(timedelta(minutes=16))

    await run()

    assert (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.CANCELLED
    assert len(await rows.notifications("rollback_missed")) == 1


async def test_forced_update_reminders_go_at_twelve_and_twenty_hours_once_each(
    release_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    await release_factory("2.3.0", is_forced=True)

    gcc_clock.advance(timedelta(hours=11, minutes=59))
    await run()
    assert await rows.notifications() == []
    gcc_clock.advance(timedelta(minutes=1))
    await run()
    await run()
    gcc_clock.advance(timedelta(hours=7, minutes=59))
    await run()
    assert [n.event for n in await rows.notifications()] == ["forced_reminder_12h"]
    gcc_clock.advance(timedelta(minutes=1))
    await run()
    await run()

    emails = await rows.notifications()
    assert [n.event for n in emails] == ["forced_reminder_12h", "forced_reminder_20h"]
    assert emails[0].context["hours_remaining"] == 12
    assert emails[1].context["hours_remaining"] == 4
    assert await rows.outbox() == []


async def test_forced_update_that_is_scheduled_gets_no_reminder(
    release_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    await release_factory("2.3.0", is_forced=True, status="scheduled")

    gcc_clock.advance(timedelta(hours=21))
    await run()

    assert await rows.notifications() == []


async def test_late_beat_sends_only_the_reminder_still_due(
    release_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    await release_factory("2.3.0", is_forced=True)

    gcc_clock.advance(timedelta(hours=21))
    await run()

    assert [n.event for n in await rows.notifications()] == ["forced_reminder_20h"]


async def test_forced_update_not_deployed_in_24_hours_becomes_deadline_exceeded_and_is_reported(
    release_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    release = await release_factory("2.3.0", is_forced=True)

    gcc_clock.advance(timedelta(hours=24))
    await run()
    await run()

    deployment = await rows.get(ScheduledDeployment, release.id)
    assert deployment.status == LocalDeploymentStatus.DEADLINE_EXCEEDED
    [report] = await rows.outbox()
    assert report.path == "/api/v1/deployments/status"
    assert report.payload["status"] == "deadlineExceeded"
    assert report.payload["releaseId"] == str(release.deployment.gcc_release_id)
    assert report.payload["organizationName"] == "acme"
    assert [n.event for n in await rows.notifications()] == ["deadline_exceeded"]
    assert await rows.tasks() == []


async def test_forced_update_scheduled_past_its_deadline_is_reported_but_stays_scheduled(
    release_factory: Any, task_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    release = await release_factory("2.3.0", is_forced=True, status="scheduled")
    task = await task_factory(
        deployment_id=release.id, execute_after=gcc_clock.now() + timedelta(hours=30)
    )

    gcc_clock.advance(timedelta(hours=24))
    await run()
    await run()

    assert (await rows.get(ScheduledDeployment, release.id)).status == "scheduled"
    assert (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.PENDING
    assert [m.payload["status"] for m in await rows.outbox()] == ["deadlineExceeded"]


async def test_forced_update_deployed_in_time_gets_no_deadline_message(
    release_factory: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    await release_factory("2.3.0", is_forced=True, status="success")

    gcc_clock.advance(timedelta(hours=25))
    await run()

    assert await rows.notifications() == []
    assert await rows.outbox() == []


async def test_deadline_exceeded_release_can_still_be_scheduled(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    run: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", is_forced=True)
    gcc_clock.advance(timedelta(hours=24))
    await run()

    response = await backend_client.post(
        "/api/admin/deployment/schedule",
        json={
            "deploymentId": str(release.id),
            "scheduledFor": (gcc_clock.now() + timedelta(minutes=30)).isoformat(),
        },
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text


async def test_agent_offline_for_ten_minutes_is_alerted_once_per_outage(
    set_agent_poll: Any, gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    await set_agent_poll(gcc_clock.now())

    gcc_clock.advance(timedelta(minutes=9, seconds=59))
    await run()
    assert await rows.notifications() == []
    gcc_clock.advance(timedelta(seconds=1))
    await run()
    gcc_clock.advance(timedelta(minutes=30))
    await run()
    assert len(await rows.notifications("agent_offline")) == 1

    await set_agent_poll(gcc_clock.now())
    await run()
    gcc_clock.advance(timedelta(minutes=10))
    await run()
    await run()

    assert len(await rows.notifications("agent_offline")) == 2


async def test_agent_that_never_polled_is_not_alerted(
    gcc_clock: ManualClock, rows: Any, run: Any
) -> None:
    gcc_clock.advance(timedelta(hours=1))

    await run()

    assert await rows.notifications() == []


async def test_run_timelines_task_runs_in_a_real_celery_worker(
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    release_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
) -> None:
    release = await release_factory("2.3.0", status="inProgress")
    task = await task_factory(
        deployment_id=release.id, status="inProgress", picked_up_at=gcc_clock.now()
    )
    gcc_clock.advance(timedelta(minutes=31))
    configure_celery(backend_settings)
    use_clock(gcc_clock)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        celery_app.send_task("deployments.run_timelines")
        for _ in range(200):
            if (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.FAILED:
                break
            await asyncio.sleep(0.05)
    use_clock(None)

    assert (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.FAILED
