"""A webhook received while the broker is down: recorded and answered, the download left due."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from celery import Celery
from sqlmodel import select
from structlog.testing import capture_logs

from customer_backend.deployments.models import ScheduledDeployment
from servicekit.db import SessionFactory
from servicekit.tasks import celery_sender
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_testing.network import free_port


async def test_a_webhook_while_the_broker_is_down_is_200_and_its_download_stays_due(
    publish_release: Callable[..., Awaitable[Any]],
    send_webhook: Callable[..., Awaitable[httpx.Response]],
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_clock: ManualClock,
) -> None:
    backend_task_recorder.forward_to = celery_sender(
        Celery("backend-broker-down"), f"redis://127.0.0.1:{free_port()}/0"
    )
    release = await publish_release("2.3.0")

    with capture_logs() as logs:
        response = await send_webhook(release.body)

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}
    assert backend_task_recorder.names() == ["intake.download_release"]
    assert [entry.get("task") for entry in logs if entry["event"] == "task.enqueue.failed"] == [
        "intake.download_release"
    ]
    async with backend_sessions() as session:
        [deployment] = (await session.exec(select(ScheduledDeployment))).all()
    assert deployment.status == "pending"
    # beat's intake.retry_downloads sends the download of a pending deployment due now
    assert deployment.next_download_at == gcc_clock.now()
