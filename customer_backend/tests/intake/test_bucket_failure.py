"""Spec 8.3, error 3.3: the customer bucket refuses a verified artifact (its S3 server stopped,
or its credentials wrong). The file waits in the staging directory, the admins are told to
check the bucket credentials, GCC hears of it, and beat's retry stores it once the bucket works,
without downloading it again."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from contracts import DeploymentStatus
from customer_backend.artifacts import staging
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake import cleanup, download
from customer_backend.intake.download import DownloadOutcome
from customer_backend.notifications.models import Notification
from customer_backend.reporting import service as reporting
from customer_backend.reporting.models import GccOutboxMessage
from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings
from gcc.escalations.models import Escalation
from gcc.releases.models import DeploymentTarget
from servicekit.db import SessionFactory
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_testing.s3 import CredentialCheckingS3Server, MotoS3Server

Publisher = Callable[..., Awaitable[Any]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]
RuntimeOpener = Callable[[str], Any]
CHART_KEY = "artifacts/helm/wrktalk-2.3.0.tgz"


@pytest.fixture
def runtime_on(
    backend_settings: Settings,
    gcc_clock: ManualClock,
    backend_task_recorder: TaskRecorder,
    tmp_path: Path,
) -> RuntimeOpener:
    """Open a worker's runtime whose bucket is reached at ``endpoint``; one staging directory
    for every runtime of the test, as a worker's persistent volume."""

    @asynccontextmanager
    async def opening(endpoint: str) -> AsyncIterator[Runtime]:
        settings = backend_settings.model_copy(
            update={
                "bucket_endpoint": endpoint,
                "bucket_max_attempts": 1,
                "download_retry_base_seconds": 0.01,
                "staging_directory": str(tmp_path / "staging"),
            }
        )
        async with open_runtime(
            settings, clock=gcc_clock, send_task=backend_task_recorder
        ) as runtime:
            yield runtime

    return opening


async def _deployment(sessions: SessionFactory, release_id: uuid.UUID) -> ScheduledDeployment:
    async with sessions() as session:
        query = select(ScheduledDeployment).where(ScheduledDeployment.gcc_release_id == release_id)
        return (await session.exec(query)).one()


async def _rows(sessions: SessionFactory, table: type[Any]) -> list[Any]:
    async with sessions() as session:
        return list((await session.exec(select(table))).all())


def _stored_keys(bucket: tuple[Any, str]) -> list[str]:
    client, name = bucket
    return [item["Key"] for item in client.list_objects_v2(Bucket=name).get("Contents", [])]


def _staged_files(tmp_path: Path) -> list[Path]:
    staging = tmp_path / "staging"
    return sorted(path for path in staging.glob("*.artifact")) if staging.exists() else []


async def test_a_stopped_bucket_keeps_the_verified_file_staged_until_beat_stores_it(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    runtime_on: RuntimeOpener,
    s3_stoppable_server: MotoS3Server,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    customer_bucket: tuple[Any, str],
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    tmp_path: Path,
) -> None:
    release = await publish_release("2.3.0")
    await send_webhook(release.body)
    deployment = await _deployment(backend_sessions, release.release_id)
    s3_stoppable_server.stop()

    async with runtime_on(s3_stoppable_server.endpoint_url) as runtime:
        outcome = await download.download_release(runtime=runtime, deployment_id=deployment.id)

        assert outcome is DownloadOutcome.STORE_FAILED
        [staged] = _staged_files(tmp_path)
        assert hashlib.sha256(staged.read_bytes()).hexdigest() == release.sha256
        assert _stored_keys(customer_bucket) == []
        failed = await _deployment(backend_sessions, release.release_id)
        assert failed.status == "downloadFailed"
        assert failed.chart_downloaded is False
        assert (failed.download_error or "").startswith(download.STORE_ERROR_PREFIX)
        assert "storing in the bucket failed" in (failed.download_error or "")
        assert failed.next_download_at == gcc_clock.now() + timedelta(minutes=15)
        assert await _rows(backend_sessions, LocalArtifact) == []
        # The admins are told to check the bucket credentials, once per release.
        [email] = await _rows(backend_sessions, Notification)
        assert email.event == "bucket_store_failed"
        assert email.dedupe_key == f"bucket-store-failed:{release.release_id}"
        assert email.context["bucket"] == runtime.settings.bucket_name
        # GCC is told: the report reaches the served GCC, which records it.
        [report] = await _rows(backend_sessions, GccOutboxMessage)
        assert report.payload["status"] == DeploymentStatus.DOWNLOAD_FAILED
        assert (await reporting.flush_outbox(runtime=runtime)).sent == 1
        async with gcc_sessions() as session:
            target = (
                await session.exec(
                    select(DeploymentTarget).where(
                        DeploymentTarget.release_id == release.release_id
                    )
                )
            ).one()
            escalations = (await session.exec(select(Escalation))).all()
        assert target.status == DeploymentStatus.DOWNLOAD_FAILED
        assert "bucket refused" in (target.error_message or "")
        assert [escalation.type for escalation in escalations] == ["DOWNLOAD_FAILED"]

        # Still out of reach at the next round: nobody is told again.
        gcc_clock.advance(timedelta(minutes=15))
        assert await download.retry_downloads(runtime=runtime) == [deployment.id]
        assert (
            await download.download_release(runtime=runtime, deployment_id=deployment.id)
            is DownloadOutcome.STORE_FAILED
        )
        assert len(await _rows(backend_sessions, Notification)) == 1
        assert len(await _rows(backend_sessions, GccOutboxMessage)) == 1

        # The bucket is back: beat's retry stores the staged file, without GCC.
        s3_stoppable_server.start()
        gcc_clock.advance(timedelta(minutes=15))
        assert await download.retry_downloads(runtime=runtime) == [deployment.id]
        offline_gcc = runtime.gcc
        async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as closed_port:
            runtime.gcc = closed_port
            try:
                stored = await download.download_release(
                    runtime=runtime, deployment_id=deployment.id
                )
            finally:
                runtime.gcc = offline_gcc

    assert stored is DownloadOutcome.DOWNLOADED
    assert _stored_keys(customer_bucket) == [CHART_KEY]
    client, name = customer_bucket
    body = client.get_object(Bucket=name, Key=CHART_KEY)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == release.sha256
    assert _staged_files(tmp_path) == []
    recovered = await _deployment(backend_sessions, release.release_id)
    assert (recovered.status, recovered.chart_downloaded, recovered.download_error) == (
        "pending",
        True,
        None,
    )
    assert [row.version for row in await _rows(backend_sessions, LocalArtifact)] == ["2.3.0"]
    events = sorted(email.event for email in await _rows(backend_sessions, Notification))
    assert events == ["bucket_store_failed", "release_available"]


async def test_wrong_bucket_credentials_are_a_store_failure_and_nothing_is_downloaded_twice(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    runtime_on: RuntimeOpener,
    s3_refusing_server: CredentialCheckingS3Server,
    s3_endpoint: str,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    gcc_clock: ManualClock,
    tmp_path: Path,
) -> None:
    release = await publish_release("2.3.0")
    await send_webhook(release.body)
    deployment = await _deployment(backend_sessions, release.release_id)

    async with runtime_on(s3_refusing_server.endpoint_url) as runtime:
        outcome = await download.download_release(runtime=runtime, deployment_id=deployment.id)

    assert outcome is DownloadOutcome.STORE_FAILED
    failed = await _deployment(backend_sessions, release.release_id)
    assert "InvalidAccessKeyId" in (failed.download_error or "")
    [email] = await _rows(backend_sessions, Notification)
    assert email.event == "bucket_store_failed"
    [report] = await _rows(backend_sessions, GccOutboxMessage)
    assert report.payload["status"] == DeploymentStatus.DOWNLOAD_FAILED
    assert len(_staged_files(tmp_path)) == 1

    # The credentials are put right (here: the bucket the backend is allowed into).
    gcc_clock.advance(timedelta(minutes=15))
    async with runtime_on(s3_endpoint) as runtime:
        assert await download.retry_downloads(runtime=runtime) == [deployment.id]
        stored = await download.download_release(runtime=runtime, deployment_id=deployment.id)

    assert stored is DownloadOutcome.DOWNLOADED
    assert _stored_keys(customer_bucket) == [CHART_KEY]
    assert _staged_files(tmp_path) == []


async def test_the_hourly_sweep_prunes_staged_files_no_deployment_waits_for(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    runtime_on: RuntimeOpener,
    s3_endpoint: str,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
    gcc_clock: ManualClock,
    tmp_path: Path,
) -> None:
    release = await publish_release("2.3.0")
    await send_webhook(release.body)
    staging_directory = tmp_path / "staging"
    partial = staging_directory / staging.PARTIAL_DIRECTORY
    partial.mkdir(parents=True)
    awaited = staging.staged_path(staging_directory, release.sha256)
    forgotten = staging.staged_path(staging_directory, "ab" * 32)
    for path in (awaited, forgotten):
        path.write_bytes(b"verified bytes")
    abandoned, in_progress = partial / "abandoned.partial", partial / "in-progress.partial"
    for path, age in ((abandoned, timedelta(hours=1)), (in_progress, timedelta(minutes=1))):
        path.write_bytes(b"half")
        written_at = (gcc_clock.now() - age).timestamp()
        os.utime(path, (written_at, written_at))

    async with runtime_on(s3_endpoint) as runtime:
        swept = await cleanup.sweep_retention(runtime)

    assert swept["staging"] == 2
    left = [path for path in staging_directory.rglob("*") if path.is_file()]
    assert sorted(left) == sorted([awaited, in_progress])
