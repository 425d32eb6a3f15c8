"""The outbox: reports reach GCC in order, retried with backoff until GCC accepts them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlmodel import col, select

from contracts import DeploymentScheduledReport, DeploymentStatus, DeploymentStatusReport
from customer_backend.reporting.models import GccOutboxMessage
from customer_backend.reporting.service import backoff, enqueue_report, flush_outbox
from customer_backend.runtime import Runtime
from gcc.organizations.models import Organization
from gcc.releases.models import DeploymentTarget
from servicekit.db import SessionFactory, session_scope
from testsupport.backend_fixtures import BACKEND_ORGANIZATION
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock

ReleasePublisher = Callable[[str], Awaitable[uuid.UUID]]


def _status(
    release_id: uuid.UUID, status: DeploymentStatus, **fields: object
) -> DeploymentStatusReport:
    return DeploymentStatusReport.model_validate(
        {
            "organizationName": BACKEND_ORGANIZATION,
            "releaseId": str(release_id),
            "status": status,
            **fields,
        }
    )


async def _enqueue(
    sessions: SessionFactory,
    clock: ManualClock,
    *reports: DeploymentStatusReport | DeploymentScheduledReport,
) -> None:
    async with session_scope(sessions) as session:
        for report in reports:
            await enqueue_report(session, clock=clock, report=report)


async def _messages(sessions: SessionFactory) -> list[GccOutboxMessage]:
    async with sessions() as session:
        result = await session.exec(
            select(GccOutboxMessage).order_by(col(GccOutboxMessage.created_at))
        )
        return list(result.all())


async def _target_status(gcc_sessions: SessionFactory, release_id: uuid.UUID) -> str:
    async with gcc_sessions() as session:
        result = await session.exec(
            select(DeploymentTarget.status).where(DeploymentTarget.release_id == release_id)
        )
        return result.one()


async def test_enqueue_report_sends_one_flush_once_the_transaction_commits(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    recorder = TaskRecorder()
    release_id = uuid.uuid4()
    async with session_scope(backend_sessions) as session:
        await enqueue_report(
            session,
            clock=gcc_clock,
            report=_status(release_id, DeploymentStatus.IN_PROGRESS),
            send_task=recorder,
        )
        await enqueue_report(
            session,
            clock=gcc_clock,
            report=_status(release_id, DeploymentStatus.SUCCESS),
            send_task=recorder,
        )
        assert recorder.sent == []

    assert recorder.names() == ["reporting.flush_outbox"]


async def test_enqueue_report_in_a_rolled_back_transaction_sends_nothing(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    recorder = TaskRecorder()
    try:
        async with session_scope(backend_sessions) as session:
            await enqueue_report(
                session,
                clock=gcc_clock,
                report=_status(uuid.uuid4(), DeploymentStatus.IN_PROGRESS),
                send_task=recorder,
            )
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass

    assert recorder.sent == []
    assert await _messages(backend_sessions) == []


async def test_report_is_retried_until_gcc_accepts_it(
    publish_at_gcc: ReleasePublisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    unreachable_gcc: httpx.AsyncClient,
) -> None:
    release_id = await publish_at_gcc("2.3.0")
    await _enqueue(backend_sessions, gcc_clock, _status(release_id, DeploymentStatus.IN_PROGRESS))
    reachable = backend_runtime.gcc
    backend_runtime.gcc = unreachable_gcc

    down = await flush_outbox(runtime=backend_runtime)

    assert (down.sent, down.failed) == (0, 1)
    [message] = await _messages(backend_sessions)
    assert message.attempts == 1
    assert message.sent_at is None
    assert message.next_attempt_at == gcc_clock.now() + timedelta(seconds=15)
    assert "GCC unreachable" in (message.last_error or "")

    backend_runtime.gcc = reachable
    too_early = await flush_outbox(runtime=backend_runtime)
    assert (too_early.sent, too_early.held) == (0, 1)

    gcc_clock.advance(timedelta(seconds=15))
    up = await flush_outbox(runtime=backend_runtime)

    assert up.sent == 1
    [message] = await _messages(backend_sessions)
    assert message.sent_at == gcc_clock.now()
    assert message.attempts == 2
    assert message.last_error is None
    assert await _target_status(gcc_sessions, release_id) == "inProgress"


async def test_later_reports_of_a_release_wait_for_an_earlier_one(
    publish_at_gcc: ReleasePublisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    first_release = await publish_at_gcc("2.3.0")
    other_release = await publish_at_gcc("2.4.0")
    await _enqueue(
        backend_sessions,
        gcc_clock,
        _status(first_release, DeploymentStatus.IN_PROGRESS),
        _status(first_release, DeploymentStatus.SUCCESS, currentVersion="2.3.0"),
        _status(other_release, DeploymentStatus.IN_PROGRESS),
    )
    async with backend_sessions() as session:
        started = (await _messages(backend_sessions))[0]
        started.next_attempt_at = gcc_clock.now() + timedelta(seconds=30)  # backing off
        session.add(started)
        await session.commit()

    held = await flush_outbox(runtime=backend_runtime)

    assert (held.sent, held.held) == (1, 2)
    assert await _target_status(gcc_sessions, first_release) == "pending"
    assert await _target_status(gcc_sessions, other_release) == "inProgress"

    gcc_clock.advance(timedelta(seconds=30))
    released = await flush_outbox(runtime=backend_runtime)

    assert released.sent == 2
    assert await _target_status(gcc_sessions, first_release) == "success"
    async with gcc_sessions() as session:
        organization = (
            await session.exec(
                select(Organization).where(Organization.name == BACKEND_ORGANIZATION)
            )
        ).one()
    assert organization.current_version == "2.3.0"


async def test_report_gcc_refuses_is_closed_and_does_not_hold_back_others(
    publish_at_gcc: ReleasePublisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release_id = await publish_at_gcc("2.3.0")
    unknown_release = uuid.uuid4()
    await _enqueue(
        backend_sessions,
        gcc_clock,
        _status(unknown_release, DeploymentStatus.IN_PROGRESS),
        _status(release_id, DeploymentStatus.IN_PROGRESS),
    )

    outcome = await flush_outbox(runtime=backend_runtime)

    assert (outcome.sent, outcome.refused) == (1, 1)
    refused, sent = await _messages(backend_sessions)
    assert refused.refused_at == gcc_clock.now()
    assert refused.sent_at is None
    assert "GCC refused with 404" in (refused.last_error or "")
    assert sent.sent_at == gcc_clock.now()
    gcc_clock.advance(timedelta(hours=1))
    assert (await flush_outbox(runtime=backend_runtime)).sent == 0


async def test_scheduled_report_reaches_gcc(
    publish_at_gcc: ReleasePublisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release_id = await publish_at_gcc("2.3.0")
    scheduled_for = gcc_clock.now() + timedelta(hours=2)
    await _enqueue(
        backend_sessions,
        gcc_clock,
        DeploymentScheduledReport(
            organization_name=BACKEND_ORGANIZATION,
            release_id=release_id,
            scheduled_for=scheduled_for,
        ),
    )

    assert (await flush_outbox(runtime=backend_runtime)).sent == 1
    async with gcc_sessions() as session:
        target = (
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release_id)
            )
        ).one()
    assert target.status == "scheduled"
    assert target.scheduled_for == scheduled_for


def test_backoff_doubles_from_15_seconds_up_to_10_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 8)] == [15, 30, 60, 120, 240, 480, 600]
    assert backoff(1000) == timedelta(minutes=10)
