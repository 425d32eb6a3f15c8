"""Fan-out through real Celery workers: in-process for the whole path, a subprocess to kill."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func
from sqlmodel import col, select

from contracts import ReleaseStatus
from gcc.delivery.pump import FLUSH_GROUP
from gcc.delivery.tasks import pump_thread
from gcc.releases.models import DeploymentTarget
from gcc.settings import Settings
from gcc.worker import celery_app, configure_celery, use_clock
from servicekit.db import SessionFactory
from timekeeping import ManualClock, SystemClock


@pytest.fixture
def celery_worker(gcc_settings: Settings, gcc_clock: ManualClock) -> Iterator[None]:
    """A real Celery worker in this process, on the test's broker and clock."""
    configure_celery(gcc_settings)
    use_clock(gcc_clock)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        pump_thread.stop()
        use_clock(None)


def forward_to_broker(name: str, *args: Any, **kwargs: Any) -> None:
    celery_app.send_task(name, args=args, kwargs=kwargs)


async def acknowledged_count(sessions: SessionFactory, release_id: uuid.UUID) -> int:
    async with sessions() as session:
        result = await session.exec(
            select(func.count())
            .select_from(DeploymentTarget)
            .where(DeploymentTarget.release_id == release_id, col(DeploymentTarget.webhook_acked))
        )
        return result.one()


async def wait_for_acknowledged(
    sessions: SessionFactory, release_id: uuid.UUID, expected: int, *, within: float
) -> int:
    deadline = time.monotonic() + within
    count = await acknowledged_count(sessions, release_id)
    while count < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        count = await acknowledged_count(sessions, release_id)
    return count


async def test_publishing_fans_the_release_out_through_the_worker_and_beat_retries(
    celery_worker: None,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    task_recorder: Any,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    task_recorder.forward_to = forward_to_broker
    organizations = []
    for index in range(30):
        name = f"fleet-{index:02d}"
        script = ["fail"] if index == 0 else []
        created = await organization_factory(
            name, webhook_endpoint=receiver.endpoint(name, *script)
        )
        receiver.trust(name, created.webhook_secret)
        organizations.append(created)
    draft = await published_release([], status=ReleaseStatus.DRAFT)

    response = await gcc_client.post(
        f"/api/internal/releases/{draft.version}/publish", headers=ci_headers
    )

    assert response.status_code == 200, response.text
    assert task_recorder.names() == ["delivery.dispatch_due"]
    assert await wait_for_acknowledged(gcc_sessions, draft.id, 29, within=30) == 29
    assert [hook.answer for hook in receiver.received_by("fleet-00")] == ["fail"]

    gcc_clock.advance(timedelta(seconds=60))
    celery_app.send_task("delivery.dispatch_due")  # what beat does every few seconds

    assert await wait_for_acknowledged(gcc_sessions, draft.id, 30, within=30) == 30
    assert all(hook.verified for hook in receiver.received)
    assert len(set(receiver.acknowledged_ids())) == 30


def worker_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    environment = dict(os.environ)
    # Compiled modules go to a cache outside the tree, so the second worker starts in a few
    # seconds instead of compiling Celery, SQLAlchemy and pydantic again.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "wrktalk-pycache")
    environment.update(
        GCC_DATABASE_URL=settings.database_url,
        GCC_REDIS_URL=settings.redis_url,
        GCC_S3_ENDPOINT_URL=settings.s3_endpoint_url or "",
        GCC_BUCKET_NAME=settings.bucket_name,
        GCC_ALLOW_HTTP_WEBHOOKS="true",
        GCC_LOG_JSON="false",
        GCC_LOG_LEVEL="WARNING",
        **overrides,
    )
    return environment


def start_worker_process(environment: dict[str, str]) -> subprocess.Popen[bytes]:
    """``gcc worker`` as its own process group, so it and its pool child die together."""
    return subprocess.Popen(
        [sys.executable, "-m", "gcc.cli", "worker"],
        env=environment,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_worker(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    if process.poll() is None:
        os.killpg(process.pid, how)
    process.wait(timeout=30)


async def test_a_worker_killed_mid_fan_out_loses_no_delivery(
    gcc_settings: Settings,
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    receiver_factory: Any,
) -> None:
    targets = 200
    clock = SystemClock()  # the worker process reads the real time
    receiver = receiver_factory(clock)
    receiver.latency_seconds = 0.1
    configure_celery(gcc_settings)
    environment = worker_environment(
        gcc_settings, GCC_DELIVERY_CONCURRENCY="10", GCC_DELIVERY_LEASE_SECONDS="2"
    )
    first = start_worker_process(environment)
    second: subprocess.Popen[bytes] | None = None
    try:
        organization_ids = []
        for index in range(targets):
            name = f"kill-{index:03d}"
            created = await organization_factory(name, webhook_endpoint=receiver.endpoint(name))
            receiver.trust(name, created.webhook_secret)
            organization_ids.append(created.organization.id)
        release = await published_release(organization_ids, published_at=datetime.now(UTC))
        celery_app.send_task("delivery.dispatch_due")  # what beat does every few seconds

        # Kill while answers are in: webhooks received, outcomes not yet all written.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            acked = await acknowledged_count(gcc_sessions, release.id)
            answered = len(receiver.acknowledged_ids())
            if acked >= 20 and answered > acked:
                break
            await asyncio.sleep(0.02)
        kill_worker(first, signal.SIGKILL)
        acked_at_kill = await acknowledged_count(gcc_sessions, release.id)
        answered_at_kill = len(set(receiver.acknowledged_ids()))
        assert 20 <= acked_at_kill < targets
        assert answered_at_kill > acked_at_kill, "the kill did not land mid fan-out"

        second = start_worker_process(environment)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if await acknowledged_count(gcc_sessions, release.id) == targets:
                break
            celery_app.send_task("delivery.dispatch_due")  # beat's job
            await asyncio.sleep(0.5)
    finally:
        kill_worker(first, signal.SIGKILL)
        if second is not None:
            kill_worker(second, signal.SIGTERM)

    async with gcc_sessions() as session:
        rows = (
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release.id)
            )
        ).all()
    assert all(row.webhook_acked for row in rows)
    acknowledged = receiver.acknowledged_ids()
    assert len(set(acknowledged)) == targets
    assert set(acknowledged) == {row.webhook_id for row in rows}
    assert all(hook.verified for hook in receiver.received)
    # The webhooks answered but not recorded when the worker died were sent again, with the
    # same id, so the customer can tell the repeat apart.
    repeats = len(acknowledged) - len(set(acknowledged))
    assert repeats > 0
    # at most what was in flight and the group of answers not yet written
    assert repeats <= 10 + FLUSH_GROUP
