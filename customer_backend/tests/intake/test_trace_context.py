"""Without an OTLP endpoint nothing is recorded, yet the release's trace id still goes from
GCC's publication through the webhook to the deployment the backend stores and downloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import select

from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake import download
from customer_backend.runtime import Runtime
from gcc.delivery.pump import deliver_due
from gcc.releases.models import Release
from gcc.runtime import open_runtime as open_gcc_runtime
from gcc.settings import Settings as GccSettings
from servicekit.db import SessionFactory
from telemetry import configure_tracing
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock

Publisher = Callable[..., Awaitable[Any]]


def _trace_and_span(traceparent: str | None) -> tuple[str, str]:
    assert traceparent is not None
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00"
    assert int(flags, 16) & 1 == 0, "not sampled: nothing is recorded without an endpoint"
    return trace_id, span_id


async def test_the_release_trace_reaches_the_stored_deployment_without_an_endpoint(
    publish_release: Publisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_settings: GccSettings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    configure_tracing(service="tests", endpoint=None)
    release = await publish_release("2.3.0")
    async with gcc_sessions() as session:
        published = (await session.exec(select(Release))).one()
    trace_id, publish_span = _trace_and_span(published.trace_parent)

    gcc_tasks = TaskRecorder()
    async with open_gcc_runtime(gcc_settings, clock=gcc_clock, send_task=gcc_tasks) as gcc:
        assert (await deliver_due(gcc)).acknowledged == 1
    assert backend_task_recorder.names() == ["intake.download_release"]

    async with backend_sessions() as session:
        received = (
            await session.exec(
                select(ScheduledDeployment).where(
                    ScheduledDeployment.gcc_release_id == release.release_id
                )
            )
        ).one()
    intake_trace, intake_span = _trace_and_span(received.trace_parent)
    assert intake_trace == trace_id
    assert intake_span != publish_span

    outcome = await download.download_release(runtime=backend_runtime, deployment_id=received.id)
    assert outcome is download.DownloadOutcome.DOWNLOADED
    async with backend_sessions() as session:
        downloaded = await session.get(ScheduledDeployment, received.id)
    assert downloaded is not None
    download_trace, download_span = _trace_and_span(downloaded.trace_parent)
    assert download_trace == trace_id
    assert download_span not in {publish_span, intake_span}
