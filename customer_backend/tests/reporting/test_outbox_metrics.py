"""The outbox's depth and the age of its oldest report, on the backend's ``/metrics``, follow
what waits for GCC: they grow while GCC is away and fall to zero once it takes the reports."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from contracts import DeploymentStatus, DeploymentStatusReport
from customer_backend.reporting.service import enqueue_report, flush_outbox
from customer_backend.runtime import Runtime
from servicekit.db import SessionFactory, session_scope
from testsupport.backend_fixtures import BACKEND_ORGANIZATION
from testsupport.metrics import scrape
from timekeeping import ManualClock

ReleasePublisher = Callable[[str], Awaitable[uuid.UUID]]
DEPTH, AGE = "wrktalk_backend_outbox_depth", "wrktalk_backend_outbox_oldest_age_seconds"


async def _enqueue(
    sessions: SessionFactory, clock: ManualClock, release_id: uuid.UUID, status: DeploymentStatus
) -> None:
    report = DeploymentStatusReport.model_validate(
        {"organizationName": BACKEND_ORGANIZATION, "releaseId": str(release_id), "status": status}
    )
    async with session_scope(sessions) as session:
        await enqueue_report(session, clock=clock, report=report)


async def test_outbox_depth_and_age_follow_the_reports_waiting_for_gcc(
    publish_at_gcc: ReleasePublisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_client: httpx.AsyncClient,
    gcc_clock: ManualClock,
    unreachable_gcc: httpx.AsyncClient,
) -> None:
    release_id = await publish_at_gcc("2.3.0")
    empty = await scrape(backend_client)
    assert (empty.value(DEPTH), empty.value(AGE)) == (0, 0)
    await _enqueue(backend_sessions, gcc_clock, release_id, DeploymentStatus.IN_PROGRESS)
    gcc_clock.advance(timedelta(minutes=10))
    await _enqueue(backend_sessions, gcc_clock, release_id, DeploymentStatus.SUCCESS)
    reachable, backend_runtime.gcc = backend_runtime.gcc, unreachable_gcc

    assert (await flush_outbox(runtime=backend_runtime)).failed == 1
    gcc_clock.advance(timedelta(minutes=6))

    waiting = await scrape(backend_client)
    assert waiting.value(DEPTH) == 2
    assert waiting.value(AGE) == 16 * 60, "past the 15 minutes of WrktalkOutboxStale"

    backend_runtime.gcc = reachable
    assert (await flush_outbox(runtime=backend_runtime)).sent == 2
    drained = await scrape(backend_client)
    assert (drained.value(DEPTH), drained.value(AGE)) == (0, 0)
