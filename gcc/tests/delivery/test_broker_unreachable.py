"""Publish and redeliver while the broker is unreachable: the commit is the decision.

The served app sends its tasks through a real Celery sender pointed at a Redis port nothing
listens on. The request answers as usual, the change is committed, and the next dispatch
(beat's ``delivery.dispatch_due``, here sent by the test once the broker is back) delivers it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from sqlmodel import select
from structlog.testing import capture_logs

from contracts import DeploymentStatus, ReleaseStatus
from gcc.delivery.tasks import pump_thread
from gcc.releases.models import DeploymentTarget, Release
from gcc.settings import Settings
from gcc.worker import celery_app, configure_celery, use_clock
from servicekit.db import SessionFactory
from servicekit.tasks import celery_sender
from timekeeping import ManualClock
from wrktalk_testing.network import free_port


async def release_targets(sessions: SessionFactory, release_id: uuid.UUID) -> list[Any]:
    async with sessions() as session:
        rows = await session.exec(
            select(DeploymentTarget).where(DeploymentTarget.release_id == release_id)
        )
        return list(rows)


async def wait_for_acknowledged(
    sessions: SessionFactory, release_id: uuid.UUID, expected: int, *, within: float
) -> int:
    deadline = time.monotonic() + within
    while True:
        targets = await release_targets(sessions, release_id)
        acknowledged = sum(1 for target in targets if target.webhook_acked)
        if acknowledged >= expected or time.monotonic() > deadline:
            return acknowledged
        await asyncio.sleep(0.1)


@pytest.fixture
def unreachable_broker(task_recorder: Any) -> Any:
    """The served app's task sender, publishing to a broker that is down."""
    task_recorder.forward_to = celery_sender(
        Celery("gcc-broker-down"), f"redis://127.0.0.1:{free_port()}/0"
    )
    return task_recorder


@pytest.fixture
def worker_on_the_real_broker(gcc_settings: Settings, gcc_clock: ManualClock) -> Iterator[None]:
    """A Celery worker in this process on the test's broker: the broker is back."""
    configure_celery(gcc_settings)
    use_clock(gcc_clock)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        pump_thread.stop()  # its runtime is on the test's database
        use_clock(None)


async def test_publish_while_the_broker_is_down_answers_200_and_a_later_dispatch_delivers(
    unreachable_broker: Any,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    request: pytest.FixtureRequest,
) -> None:
    for index in range(3):
        name = f"outage-{index}"
        created = await organization_factory(name, webhook_endpoint=receiver.endpoint(name))
        receiver.trust(name, created.webhook_secret)
    draft = await published_release([], status=ReleaseStatus.DRAFT)

    with capture_logs() as logs:
        response = await gcc_client.post(
            f"/api/internal/releases/{draft.version}/publish", headers=ci_headers
        )

    assert response.status_code == 200, response.text
    assert response.json()["targets"] == 3
    assert unreachable_broker.names() == ["delivery.dispatch_due"]
    failures = [entry for entry in logs if entry["log_level"] in ("warning", "error")]
    assert [(entry["event"], entry.get("task")) for entry in failures] == [
        ("task.enqueue.failed", "delivery.dispatch_due")
    ]
    async with gcc_sessions() as session:
        stored = await session.get(Release, draft.id)
        assert stored is not None
        assert stored.status == ReleaseStatus.PUBLISHED
    assert len(await release_targets(gcc_sessions, draft.id)) == 3
    assert receiver.received == []

    request.getfixturevalue("worker_on_the_real_broker")
    celery_app.send_task("delivery.dispatch_due")  # what beat does every few seconds

    assert await wait_for_acknowledged(gcc_sessions, draft.id, 3, within=30) == 3
    assert len(set(receiver.acknowledged_ids())) == 3


async def test_redeliver_while_the_broker_is_down_answers_200_and_requeues(
    unreachable_broker: Any,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    failed = await organization_factory("outage-failed")
    release = await published_release([failed.organization.id])
    [target] = await release_targets(gcc_sessions, release.id)
    async with gcc_sessions() as session:
        stored = await session.get(DeploymentTarget, target.id)
        assert stored is not None
        stored.webhook_failed = True
        stored.webhook_attempts = 3
        stored.next_attempt_at = None
        stored.status = DeploymentStatus.WEBHOOK_FAILED
        await session.commit()

    response = await gcc_client.post(
        f"/api/operator/releases/{release.version}/redeliver", headers=operator_headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["organizations"] == ["outage-failed"]
    assert unreachable_broker.names() == ["delivery.dispatch_due"]
    [target] = await release_targets(gcc_sessions, release.id)
    assert not target.webhook_failed
    assert target.next_attempt_at == gcc_clock.now()  # due: beat's next dispatch sends it
