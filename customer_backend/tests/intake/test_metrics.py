"""The intake metrics on the backend's ``/metrics`` move by what a release's intake did."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlmodel import select

from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake import download
from customer_backend.runtime import Runtime
from servicekit.db import SessionFactory
from testsupport.metrics import scrape

Publisher = Callable[..., Awaitable[Any]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]
RECEIVED = "wrktalk_backend_webhooks_received_total"


async def test_webhooks_are_counted_by_outcome(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_client: httpx.AsyncClient,
) -> None:
    release = await publish_release("2.3.0")
    before = await scrape(backend_client)

    assert (await send_webhook(release.body)).status_code == 200
    assert (await send_webhook(release.body)).status_code == 200
    assert (await send_webhook(release.body, secret="whsec_" + "A" * 43)).status_code == 401
    assert (await send_webhook(b'{"not": "a release"}')).status_code == 422

    after = await scrape(backend_client)
    assert after.moved(before, RECEIVED, outcome="accepted") == 1
    assert after.moved(before, RECEIVED, outcome="duplicate") == 1
    assert after.moved(before, RECEIVED, outcome="unauthorized") == 1
    assert after.moved(before, RECEIVED, outcome="invalid") == 1


async def test_a_download_counts_its_bytes_at_the_backend_and_the_upload_at_gcc(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_client: httpx.AsyncClient,
    gcc_client: httpx.AsyncClient,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
) -> None:
    gcc_before = await scrape(gcc_client)
    release = await publish_release("2.3.0", filler=uuid.uuid4().bytes * 1024)
    gcc_after = await scrape(gcc_client)
    assert gcc_after.moved(gcc_before, "wrktalk_gcc_artifact_uploads_total", type="helm") == 1
    uploaded = gcc_after.moved(gcc_before, "wrktalk_gcc_artifact_upload_bytes_total", type="helm")
    assert uploaded == len(release.chart)
    assert (await send_webhook(release.body)).status_code == 200
    async with backend_sessions() as session:
        deployment = (await session.exec(select(ScheduledDeployment))).one()
    before = await scrape(backend_client)

    await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    after = await scrape(backend_client)
    assert (
        after.moved(before, "wrktalk_backend_downloads_total", type="helm", outcome="downloaded")
        == 1
    )
    assert after.moved(before, "wrktalk_backend_download_bytes_total", type="helm") == len(
        release.chart
    )
    assert after.moved(before, "wrktalk_backend_download_duration_seconds_count", type="helm") == 1
    assert after.value("wrktalk_backend_agent_tasks", status="pending") == 0
    assert after.value("wrktalk_backend_agent_last_seen_timestamp_seconds") == 0
