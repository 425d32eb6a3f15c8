"""Downloading from the real GCC into the customer bucket, verified, with retries."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select

from contracts import DeploymentStatus, DeploymentType
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake import download
from customer_backend.intake.download import DownloadOutcome
from customer_backend.intake.service import record_release
from customer_backend.notifications.models import Notification
from customer_backend.reporting.models import GccOutboxMessage
from customer_backend.runtime import Runtime
from gcc.artifacts.models import Artifact
from gcc.delivery import service as delivery
from gcc.delivery.pump import deliver_due
from gcc.releases.models import DeploymentTarget
from gcc.runtime import open_runtime as open_gcc_runtime
from gcc.settings import Settings as GccSettings
from servicekit.db import SessionFactory, session_scope
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock

Publisher = Callable[..., Awaitable[Any]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]


async def _deployment(sessions: SessionFactory, release_id: uuid.UUID) -> ScheduledDeployment:
    async with sessions() as session:
        result = await session.exec(
            select(ScheduledDeployment).where(ScheduledDeployment.gcc_release_id == release_id)
        )
        return result.one()


async def _notifications(sessions: SessionFactory) -> list[Notification]:
    async with sessions() as session:
        return list((await session.exec(select(Notification))).all())


def _stored_keys(bucket: tuple[Any, str]) -> list[str]:
    client, name = bucket
    return [item["Key"] for item in client.list_objects_v2(Bucket=name).get("Contents", [])]


async def test_whole_intake_from_a_gcc_publish_stores_the_verified_chart(
    publish_release: Publisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    customer_bucket: tuple[Any, str],
    gcc_settings: GccSettings,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.3.0", filler=uuid.uuid4().bytes * 4096)
    # GCC's own delivery signs the webhook and sends it to the served backend.
    gcc_tasks = TaskRecorder()
    async with open_gcc_runtime(gcc_settings, clock=gcc_clock, send_task=gcc_tasks) as gcc:
        assert await delivery.run_dispatch(gcc) is True
        assert gcc_tasks.names() == ["delivery.pump"]
        assert (await deliver_due(gcc)).acknowledged == 1
    async with gcc_sessions() as session:
        target = (await session.exec(select(DeploymentTarget))).one()
    assert target.webhook_acked is True
    [(task, (deployment_id,), _)] = backend_task_recorder.sent
    assert task == "intake.download_release"

    outcome = await download.download_release(
        runtime=backend_runtime, deployment_id=uuid.UUID(deployment_id)
    )

    assert outcome is DownloadOutcome.DOWNLOADED
    client, bucket = customer_bucket
    stored = client.get_object(Bucket=bucket, Key="artifacts/helm/wrktalk-2.3.0.tgz")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == release.sha256
    deployment = await _deployment(backend_sessions, release.release_id)
    assert deployment.status == "pending"
    assert deployment.chart_downloaded is True
    assert deployment.chart_bucket_path == "artifacts/helm/wrktalk-2.3.0.tgz"
    assert deployment.download_attempts == 1
    assert deployment.next_download_at is None
    async with backend_sessions() as session:
        [artifact] = (await session.exec(select(LocalArtifact))).all()
    assert (artifact.version, artifact.type, artifact.sha256, artifact.size_bytes) == (
        "2.3.0",
        "helm",
        release.sha256,
        len(release.chart),
    )
    [notification] = await _notifications(backend_sessions)
    assert notification.event == "release_available"
    assert notification.dedupe_key == f"release-available:{release.release_id}"
    assert notification.context["version"] == "2.3.0"
    assert notification.context["release_notes"] == "Notes of 2.3.0"
    assert "notifications.send_pending" in backend_task_recorder.names()


async def test_forced_release_email_names_the_deadline(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
    customer_bucket: tuple[Any, str],
) -> None:
    release = await publish_release("2.4.0", is_forced=True)
    await send_webhook(release.body)
    deployment = await _deployment(backend_sessions, release.release_id)

    await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    [notification] = await _notifications(backend_sessions)
    assert notification.event == "forced_release_available"
    deadline = gcc_clock.now() + timedelta(hours=24)
    assert notification.context["force_deadline"] == deadline.isoformat()


async def test_downloading_again_changes_nothing(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
) -> None:
    release = await publish_release()
    await send_webhook(release.body)
    deployment = await _deployment(backend_sessions, release.release_id)
    await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    again = await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    assert again is DownloadOutcome.NOT_NEEDED
    assert (await _deployment(backend_sessions, release.release_id)).download_attempts == 1
    assert len(await _notifications(backend_sessions)) == 1


async def test_corrupted_artifact_is_never_stored_and_fails_after_three_tries(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_bucket: tuple[Any, str],
    customer_bucket: tuple[Any, str],
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.5.0")
    gcc_s3, gcc_bucket_name = gcc_bucket
    gcc_key = "charts/helm/wrktalk-2.5.0.tgz"
    gcc_s3.put_object(
        Bucket=gcc_bucket_name,
        Key=gcc_key,
        Body=release.chart[:-1] + bytes([release.chart[-1] ^ 0xFF]),
    )
    await send_webhook(release.body)
    deployment = await _deployment(backend_sessions, release.release_id)
    backend_task_recorder.sent.clear()

    outcome = await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    assert outcome is DownloadOutcome.FAILED
    assert _stored_keys(customer_bucket) == []
    failed = await _deployment(backend_sessions, release.release_id)
    assert failed.status == "downloadFailed"
    assert failed.chart_downloaded is False
    assert failed.download_attempts == 3
    assert "3 download tries failed" in (failed.download_error or "")
    assert release.sha256 in (failed.download_error or "")
    assert failed.next_download_at == gcc_clock.now() + timedelta(minutes=15)
    async with backend_sessions() as session:
        assert (await session.exec(select(LocalArtifact))).all() == []
        [report] = (await session.exec(select(GccOutboxMessage))).all()
    [notification] = await _notifications(backend_sessions)
    assert notification.event == "download_failed"
    assert notification.dedupe_key == f"download-failed:{release.release_id}"
    assert report.payload["status"] == DeploymentStatus.DOWNLOAD_FAILED
    assert report.payload["releaseId"] == str(release.release_id)
    assert "reporting.flush_outbox" in backend_task_recorder.names()

    # Beat retries only once the retry interval has passed.
    backend_task_recorder.sent.clear()
    assert await download.retry_downloads(runtime=backend_runtime) == []
    gcc_clock.advance(timedelta(minutes=15))
    assert await download.retry_downloads(runtime=backend_runtime) == [deployment.id]
    assert backend_task_recorder.sent == [("intake.download_release", (str(deployment.id),), {})]
    assert await download.retry_downloads(runtime=backend_runtime) == []

    # Still corrupted: a second failed round tells nobody again.
    assert (
        await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)
        is DownloadOutcome.FAILED
    )
    assert (await _deployment(backend_sessions, release.release_id)).download_attempts == 6
    assert len(await _notifications(backend_sessions)) == 1
    async with backend_sessions() as session:
        assert len((await session.exec(select(GccOutboxMessage))).all()) == 1

    # GCC serves the right bytes again: the next round stores them and the release is pending.
    gcc_s3.put_object(Bucket=gcc_bucket_name, Key=gcc_key, Body=release.chart)
    assert (
        await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)
        is DownloadOutcome.DOWNLOADED
    )
    recovered = await _deployment(backend_sessions, release.release_id)
    assert (recovered.status, recovered.chart_downloaded, recovered.download_error) == (
        "pending",
        True,
        None,
    )
    assert _stored_keys(customer_bucket) == ["artifacts/helm/wrktalk-2.5.0.tgz"]


async def test_gccs_header_that_differs_from_the_signed_digest_is_refused(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
) -> None:
    release = await publish_release("2.6.0")
    await send_webhook(release.body)
    async with gcc_sessions() as session:
        artifact = (await session.exec(select(Artifact).where(Artifact.version == "2.6.0"))).one()
        artifact.sha256 = "0" * 64
        session.add(artifact)
        await session.commit()
    deployment = await _deployment(backend_sessions, release.release_id)

    outcome = await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    assert outcome is DownloadOutcome.FAILED
    assert _stored_keys(customer_bucket) == []
    failed = await _deployment(backend_sessions, release.release_id)
    assert "X-Sha256" in (failed.download_error or "")


async def test_a_changed_expected_digest_row_is_ignored_for_the_signed_one(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
) -> None:
    release = await publish_release("2.6.0")
    await send_webhook(release.body)
    async with backend_sessions() as session:
        deployment = (await session.exec(select(ScheduledDeployment))).one()
        deployment.expected_sha256 = "0" * 64
        session.add(deployment)
        await session.commit()

    outcome = await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    assert outcome is DownloadOutcome.DOWNLOADED
    assert _stored_keys(customer_bucket) == ["artifacts/helm/wrktalk-2.6.0.tgz"]


async def test_a_changed_stored_manifest_fails_the_download(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
) -> None:
    release = await publish_release("2.6.0")
    await send_webhook(release.body)
    async with backend_sessions() as session:
        deployment = (await session.exec(select(ScheduledDeployment))).one()
        data = dict(deployment.release_data)
        data["manifest"]["manifest"]["artifacts"][0]["sha256"] = "0" * 64
        deployment.release_data = data
        flag_modified(deployment, "release_data")
        session.add(deployment)
        await session.commit()

    outcome = await download.download_release(runtime=backend_runtime, deployment_id=deployment.id)

    assert outcome is DownloadOutcome.FAILED
    assert _stored_keys(customer_bucket) == []
    failed = await _deployment(backend_sessions, release.release_id)
    assert "signed manifest is refused" in (failed.download_error or "")


async def test_unreachable_gcc_fails_the_round_and_beat_retries(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    customer_bucket: tuple[Any, str],
) -> None:
    release = await publish_release("2.7.0")
    await send_webhook(release.body)
    deployment = await _deployment(backend_sessions, release.release_id)
    reachable = backend_runtime.gcc
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as closed_port:
        backend_runtime.gcc = closed_port
        try:
            outcome = await download.download_release(
                runtime=backend_runtime, deployment_id=deployment.id
            )
        finally:
            backend_runtime.gcc = reachable

    assert outcome is DownloadOutcome.FAILED
    failed = await _deployment(backend_sessions, release.release_id)
    assert failed.status == "downloadFailed"
    assert "downloading from GCC failed" in (failed.download_error or "")
    assert _stored_keys(customer_bucket) == []


async def test_retry_downloads_resends_a_pending_release_whose_download_never_ran(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
) -> None:
    release = await publish_release()
    await send_webhook(release.body)
    deployment = await _deployment(backend_sessions, release.release_id)
    backend_task_recorder.sent.clear()

    assert await download.retry_downloads(runtime=backend_runtime) == [deployment.id]
    assert backend_task_recorder.names() == ["intake.download_release"]


async def test_release_without_this_installations_artifact_is_download_failed_at_once(
    publish_release: Publisher,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
) -> None:
    from contracts import ReleasePublishedWebhook

    release = await publish_release()  # a Helm chart only
    docker = backend_runtime.settings.model_copy(update={"deployment_type": DeploymentType.DOCKER})
    async with session_scope(backend_sessions) as session:
        outcome = await record_release(
            session,
            clock=backend_runtime.clock,
            settings=docker,
            webhook=ReleasePublishedWebhook.model_validate(release.document),
            release_data=release.document,
            send_task=backend_task_recorder,
        )

    deployment = await _deployment(backend_sessions, release.release_id)
    assert outcome.is_new
    assert deployment.status == "downloadFailed"
    assert deployment.artifact_type == "compose"
    assert "has no compose artifact" in (deployment.download_error or "")
    assert deployment.next_download_at is None
    assert backend_task_recorder.names() == ["notifications.send_pending", "reporting.flush_outbox"]
    [notification] = await _notifications(backend_sessions)
    assert notification.event == "download_failed"
    async with backend_sessions() as session:
        [report] = (
            await session.exec(
                select(GccOutboxMessage).where(col(GccOutboxMessage.kind) == "status")
            )
        ).all()
    assert report.payload["status"] == "downloadFailed"
