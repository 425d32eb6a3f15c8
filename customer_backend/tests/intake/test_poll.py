"""The updates poll takes up releases whose webhook never arrived, through the same intake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import select

from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.installation.models import InstallationState
from customer_backend.intake.polling import poll_gcc
from customer_backend.runtime import Runtime
from servicekit.db import SessionFactory
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock

Publisher = Callable[..., Awaitable[Any]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]


async def _deployments(sessions: SessionFactory) -> list[ScheduledDeployment]:
    async with sessions() as session:
        return list((await session.exec(select(ScheduledDeployment))).all())


async def test_poll_takes_up_a_release_whose_webhook_failed(
    publish_release: Publisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.3.0")  # GCC's webhook is never delivered

    outcome = await poll_gcc(runtime=backend_runtime)

    assert outcome is not None
    assert (outcome.offered, outcome.recorded, outcome.invalid) == (1, 1, 0)
    [deployment] = await _deployments(backend_sessions)
    assert deployment.gcc_release_id == release.release_id
    assert deployment.status == "pending"
    assert deployment.release_data == release.document
    assert deployment.expected_sha256 == release.sha256
    assert backend_task_recorder.sent == [("intake.download_release", (str(deployment.id),), {})]
    async with backend_sessions() as session:
        state = await session.get(InstallationState, 1)
    assert state is not None
    assert state.last_gcc_poll_at == gcc_clock.now()


async def test_polling_again_or_receiving_the_webhook_later_changes_nothing(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.3.0")
    await poll_gcc(runtime=backend_runtime)
    [before] = await _deployments(backend_sessions)
    gcc_clock.advance(timedelta(minutes=5))

    second = await poll_gcc(runtime=backend_runtime)
    late_webhook = await send_webhook(release.body)

    assert second is not None
    assert (second.offered, second.recorded) == (1, 0)
    assert late_webhook.status_code == 200
    [after] = await _deployments(backend_sessions)
    assert after.model_dump() == before.model_dump()
    assert backend_task_recorder.names() == ["intake.download_release"]


async def test_poll_when_gcc_is_unreachable_records_nothing(
    backend_runtime: Runtime, backend_sessions: SessionFactory, backend_client: httpx.AsyncClient
) -> None:
    reachable = backend_runtime.gcc
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as closed_port:
        backend_runtime.gcc = closed_port
        try:
            outcome = await poll_gcc(runtime=backend_runtime)
        finally:
            backend_runtime.gcc = reachable

    assert outcome is None
    async with backend_sessions() as session:
        assert await session.get(InstallationState, 1) is None


async def test_poll_after_the_license_expired_takes_up_nothing(
    publish_release: Publisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_clock: ManualClock,
) -> None:
    await publish_release("2.3.0")
    backend_runtime.settings = backend_runtime.settings.model_copy(
        update={"license_expires_at": gcc_clock.now() - timedelta(days=1)}
    )

    outcome = await poll_gcc(runtime=backend_runtime)

    assert outcome is not None
    assert (outcome.offered, outcome.recorded) == (1, 0)
    assert await _deployments(backend_sessions) == []
    assert backend_task_recorder.sent == []


async def test_the_poll_carries_a_withdrawal_of_a_release_taken_up(
    publish_release: Publisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
) -> None:
    await publish_release("2.3.0")
    await poll_gcc(runtime=backend_runtime)
    withdrawn = await gcc_client.post(
        "/api/operator/releases/2.3.0/withdraw",
        json={"reason": "bad chart"},
        headers=operator_headers,
    )

    outcome = await poll_gcc(runtime=backend_runtime)
    again = await poll_gcc(runtime=backend_runtime)

    assert withdrawn.status_code == 200, withdrawn.text
    assert outcome is not None
    assert outcome.offered == 0
    assert again is not None
    [deployment] = await _deployments(backend_sessions)
    assert deployment.withdrawn_at is not None
    assert deployment.withdraw_reason == "bad chart"
