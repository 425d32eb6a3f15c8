"""Health classification of the fleet and the escalations it raises, with the clock moved."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlmodel import select

from contracts import EscalationType
from gcc.escalations.models import Escalation
from gcc.escalations.service import raise_escalation
from gcc.health.service import Classification, classify_health
from gcc.organizations.models import Organization
from gcc.settings import Settings
from gcc.worker import celery_app
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock


async def classify(
    sessions: SessionFactory, clock: ManualClock, settings: Settings
) -> Classification:
    async with session_scope(sessions) as session:
        return await classify_health(session, clock=clock, settings=settings)


async def organizations_by_name(sessions: SessionFactory) -> dict[str, Organization]:
    async with sessions() as session:
        rows = (await session.exec(select(Organization))).all()
    return {row.name: row for row in rows}


async def all_escalations(sessions: SessionFactory) -> list[Escalation]:
    async with sessions() as session:
        return list((await session.exec(select(Escalation))).all())


async def test_thresholds_online_degraded_offline_critical_unknown(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    now = gcc_clock.now()
    await organization_factory("nine-minutes", last_heartbeat_at=now - timedelta(minutes=9))
    await organization_factory("fifty-nine", last_heartbeat_at=now - timedelta(minutes=59))
    await organization_factory("twenty-three", last_heartbeat_at=now - timedelta(hours=23))
    await organization_factory("twenty-five", last_heartbeat_at=now - timedelta(hours=25))
    await organization_factory("never-seen")

    result = await classify(gcc_sessions, gcc_clock, gcc_settings)

    rows = await organizations_by_name(gcc_sessions)
    assert {name: row.health_status for name, row in rows.items()} == {
        "nine-minutes": "online",
        "fifty-nine": "degraded",
        "twenty-three": "offline",
        "twenty-five": "critical",
        "never-seen": "unknown",
    }
    assert {name for name, row in rows.items() if row.is_online} == {"nine-minutes"}
    assert rows["fifty-nine"].last_seen_at == now - timedelta(minutes=59)
    assert rows["never-seen"].last_seen_at is None
    assert result.organizations_changed == 4


async def test_moving_the_clock_walks_an_organization_through_every_state(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    heartbeat_at = gcc_clock.now()
    await organization_factory("customer-x", last_heartbeat_at=heartbeat_at)
    seen: list[str] = []
    for elapsed in (
        timedelta(minutes=9),
        timedelta(minutes=59),
        timedelta(hours=23),
        timedelta(hours=25),
    ):
        gcc_clock.set(heartbeat_at + elapsed)
        await classify(gcc_sessions, gcc_clock, gcc_settings)
        seen.append((await organizations_by_name(gcc_sessions))["customer-x"].health_status)

    assert seen == ["online", "degraded", "offline", "critical"]


async def test_last_seen_is_the_later_of_heartbeat_and_webhook_ack(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    now = gcc_clock.now()
    await organization_factory(
        "acked-recently",
        last_heartbeat_at=now - timedelta(hours=30),
        last_webhook_ack_at=now - timedelta(minutes=2),
    )
    await organization_factory("ack-only", last_webhook_ack_at=now - timedelta(minutes=30))

    await classify(gcc_sessions, gcc_clock, gcc_settings)

    rows = await organizations_by_name(gcc_sessions)
    assert rows["acked-recently"].health_status == "online"
    assert rows["acked-recently"].last_seen_at == now - timedelta(minutes=2)
    assert rows["ack-only"].health_status == "degraded"


async def test_a_steady_fleet_is_not_rewritten(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    await organization_factory("customer-x", last_heartbeat_at=gcc_clock.now())
    await classify(gcc_sessions, gcc_clock, gcc_settings)

    again = await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert again.organizations_changed == 0


async def test_deleted_organizations_are_not_classified(
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    await organization_factory(
        "gone", last_heartbeat_at=gcc_clock.now(), deleted_at=gcc_clock.now()
    )

    await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert (await organizations_by_name(gcc_sessions))["gone"].health_status == "unknown"


async def test_every_critical_organization_raises_client_offline_once(
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    now = gcc_clock.now()
    silent = await organization_factory("silent", last_heartbeat_at=now - timedelta(hours=25))
    not_forced = await organization_factory(
        "not-forced", last_heartbeat_at=now - timedelta(hours=25)
    )
    offline = await organization_factory("offline", last_heartbeat_at=now - timedelta(hours=2))
    await organization_factory("never-seen")
    forced = await release_factory("2.3.0", is_forced=True)
    normal = await release_factory("2.3.1")
    await target_factory(forced, silent.organization.id, status="webhookFailed")
    await target_factory(normal, not_forced.organization.id, status="notified")
    await target_factory(forced, offline.organization.id, status="notified")

    first = await classify(gcc_sessions, gcc_clock, gcc_settings)
    gcc_clock.advance(timedelta(minutes=1))
    second = await classify(gcc_sessions, gcc_clock, gcc_settings)

    escalations = await all_escalations(gcc_sessions)
    assert {escalation.type for escalation in escalations} == {"CLIENT_OFFLINE"}
    assert {escalation.organization_id for escalation in escalations} == {
        silent.organization.id,
        not_forced.organization.id,
    }
    assert all(escalation.notified_at is None for escalation in escalations)
    assert first.client_offline_raised == 2
    assert second.client_offline_raised == 0


async def test_forced_release_not_deployed_after_the_deadline_raises_once(
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    now = gcc_clock.now()
    late = await organization_factory("late", last_heartbeat_at=now)
    done = await organization_factory("done", last_heartbeat_at=now)
    forced = await release_factory("2.3.0", is_forced=True, published_at=now)
    await target_factory(forced, late.organization.id, status="scheduled")
    await target_factory(forced, done.organization.id, status="success")

    gcc_clock.advance(timedelta(hours=23, minutes=59))
    before = await classify(gcc_sessions, gcc_clock, gcc_settings)
    gcc_clock.advance(timedelta(minutes=2))
    after = await classify(gcc_sessions, gcc_clock, gcc_settings)
    gcc_clock.advance(timedelta(minutes=1))
    again = await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert before.forced_deadline_raised == 0
    assert after.forced_deadline_raised == 1
    assert again.forced_deadline_raised == 0
    [escalation] = [
        escalation
        for escalation in await all_escalations(gcc_sessions)
        if escalation.type == "FORCED_24H_EXCEEDED"
    ]
    assert escalation.type == "FORCED_24H_EXCEEDED"
    assert escalation.organization_id == late.organization.id
    assert escalation.release_version == "2.3.0"
    assert escalation.details is not None
    assert escalation.details["version"] == "2.3.0"


async def test_escalation_raised_by_a_report_is_not_raised_again_by_classification(
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    customer = await organization_factory("customer-x", last_heartbeat_at=gcc_clock.now())
    forced = await release_factory("2.3.0", is_forced=True, published_at=gcc_clock.now())
    await target_factory(forced, customer.organization.id, status="deadlineExceeded")
    async with session_scope(gcc_sessions) as session:
        await raise_escalation(
            session,
            clock=gcc_clock,
            escalation_type=EscalationType.FORCED_24H_EXCEEDED,
            organization_id=customer.organization.id,
            release_id=forced.id,
            reason="reported by the customer",
        )
    gcc_clock.advance(timedelta(hours=25))

    result = await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert result.forced_deadline_raised == 0
    forced_escalations = [
        escalation
        for escalation in await all_escalations(gcc_sessions)
        if escalation.type == "FORCED_24H_EXCEEDED"
    ]
    assert [escalation.reason for escalation in forced_escalations] == ["reported by the customer"]


async def test_health_classify_task_classifies_the_fleet(
    task_thread: ThreadPoolExecutor,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    await organization_factory("customer-x", last_heartbeat_at=gcc_clock.now())
    gcc_clock.advance(timedelta(hours=2))
    task = celery_app.tasks["health.classify"]

    result = await asyncio.get_running_loop().run_in_executor(
        task_thread, lambda: task.apply().get()
    )

    assert result == {
        "organizationsChanged": 1,
        "clientOfflineRaised": 0,
        "clientOfflineResolved": 0,
        "forcedDeadlineRaised": 0,
    }
    assert (await organizations_by_name(gcc_sessions))["customer-x"].health_status == "offline"
