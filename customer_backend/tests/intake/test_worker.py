"""The intake through the broker: the webhook's download task runs in a real Celery worker."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from celery.contrib.testing.worker import start_worker
from sqlmodel import select

from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.runtime import task_sender
from customer_backend.settings import Settings
from customer_backend.worker import celery_app, configure_celery, use_clock
from servicekit.db import SessionFactory
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock

Publisher = Callable[..., Awaitable[Any]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]


async def test_webhook_download_runs_in_a_real_celery_worker(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    customer_bucket: tuple[Any, str],
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.3.0")
    configure_celery(backend_settings.model_copy(update={"download_retry_base_seconds": 0.01}))
    use_clock(gcc_clock)
    backend_task_recorder.forward_to = task_sender(backend_settings)
    deployment: ScheduledDeployment | None = None
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            assert (await send_webhook(release.body)).status_code == 200
            for _ in range(200):
                async with backend_sessions() as session:
                    deployment = (await session.exec(select(ScheduledDeployment))).first()
                if deployment is not None and deployment.chart_downloaded:
                    break
                await asyncio.sleep(0.05)
    finally:
        use_clock(None)

    assert deployment is not None
    assert deployment.chart_downloaded is True
    client, bucket = customer_bucket
    stored = client.get_object(Bucket=bucket, Key=deployment.chart_bucket_path)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == release.sha256
