"""An air-gapped backend (``WRKTALK_AIR_GAPPED``) asks GCC nothing and sends it nothing: its
reports are kept in the outbox, counted on the Overview, and sent in order once connected."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlmodel import select

from contracts import DeploymentStatus, DeploymentStatusReport
from customer_backend.console.overview import overview
from customer_backend.intake.polling import poll_gcc
from customer_backend.reporting.models import GccOutboxMessage
from customer_backend.reporting.service import enqueue_report, flush_outbox, send_heartbeat
from customer_backend.runtime import Runtime
from gcc.organizations.models import Organization
from gcc.releases.models import DeploymentTarget
from servicekit.db import SessionFactory, session_scope
from testsupport.backend_fixtures import BACKEND_ORGANIZATION
from timekeeping import ManualClock

ReleasePublisher = Callable[[str], Awaitable[uuid.UUID]]


async def test_reports_are_kept_while_air_gapped_and_sent_once_connected(
    publish_at_gcc: ReleasePublisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release_id = await publish_at_gcc("2.3.0")
    connected = backend_runtime.settings
    backend_runtime.settings = connected.model_copy(update={"air_gapped": True})
    async with session_scope(backend_sessions) as session:
        await enqueue_report(
            session,
            clock=gcc_clock,
            report=DeploymentStatusReport(
                organization_name=BACKEND_ORGANIZATION,
                release_id=release_id,
                status=DeploymentStatus.IN_PROGRESS,
            ),
        )

    kept = await flush_outbox(runtime=backend_runtime)
    polled = await poll_gcc(runtime=backend_runtime)
    heartbeat = await send_heartbeat(runtime=backend_runtime)

    assert kept.kept_air_gapped is True
    assert (kept.sent, kept.failed) == (0, 0)
    assert polled is None
    assert heartbeat is None
    async with backend_sessions() as session:
        [message] = (await session.exec(select(GccOutboxMessage))).all()
        shown = await overview(session, clock=gcc_clock, settings=backend_runtime.settings)
    assert (message.attempts, message.sent_at, message.last_error) == (0, None, None)
    assert shown.is_air_gapped is True
    assert shown.reports is not None
    assert (shown.reports.count, shown.reports.oldest_at) == (1, gcc_clock.now())
    async with gcc_sessions() as session:
        organization = (
            await session.exec(
                select(Organization).where(Organization.name == BACKEND_ORGANIZATION)
            )
        ).one()
        target = (
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release_id)
            )
        ).one()
    assert organization.last_heartbeat_at is None
    assert target.status != "inProgress"

    backend_runtime.settings = connected
    sent = await flush_outbox(runtime=backend_runtime)

    assert sent.sent == 1
    async with gcc_sessions() as session:
        target = (
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release_id)
            )
        ).one()
    assert target.status == "inProgress"
    async with backend_sessions() as session:
        shown = await overview(session, clock=gcc_clock, settings=connected)
    assert shown.reports is not None
    assert shown.reports.count == 0
