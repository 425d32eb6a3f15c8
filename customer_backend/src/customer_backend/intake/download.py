"""Downloading a release's artifact: three tries per round, rounds retried by beat.

A round has two steps. First the artifact is downloaded from GCC into the staging directory
(``artifacts.staging``), verified, in up to three tries with exponential backoff between them
(``download_retry_base_seconds``, then twice that); then the verified file is stored in the
bucket, in up to three tries as well. A download that fails leaves the deployment
``downloadFailed`` with the error, tells the admins (once per release: a GCC outage must not
fill their inbox every 15 minutes) and GCC (once, when the deployment first fails). A store
that fails (spec 8.3, error 3.3) leaves the verified file staged and the deployment
``downloadFailed``, emails the admins to check the bucket credentials (once per release) and
tells GCC (once); the next round stores the staged file without downloading it again. Either
way ``next_download_at`` is set a retry interval later, when ``intake.retry_downloads`` sends
the round again. A successful round records the artifact, makes a ``downloadFailed``
deployment ``pending`` again, queues the "new release" email (once per release), removes the
staged file and applies retention.
"""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import structlog

from contracts import ArtifactType, DeploymentStatus, DeploymentStatusReport, LocalDeploymentStatus
from customer_backend import metrics
from customer_backend.artifacts import service as artifacts
from customer_backend.artifacts import staging
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.installation import service as installation
from customer_backend.intake import cleanup, repository
from customer_backend.intake.availability import accept_stored_artifact
from customer_backend.intake.manifests import signed_artifact
from customer_backend.intake.service import request_download
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.runtime import Runtime
from logconfig import log_context
from objectstore import ObjectInfo
from servicekit.db import session_scope
from signing import ManifestRefused
from telemetry import StatusCode, span
from timekeeping import backoff_delay

log = structlog.get_logger(__name__)

TRIES_PER_ROUND = 3
STORE_ERROR_PREFIX = "The artifact was downloaded and verified, but the bucket refused it"
"""How a store failure's ``download_error`` starts (what tells it from a download failure)."""

Result = TypeVar("Result")


class DownloadOutcome(enum.StrEnum):
    """What one ``intake.download_release`` run did."""

    DOWNLOADED = "downloaded"
    FAILED = "failed"
    STORE_FAILED = "storeFailed"
    NOT_NEEDED = "notNeeded"
    ALREADY_RUNNING = "alreadyRunning"


async def download_release(*, runtime: Runtime, deployment_id: uuid.UUID) -> DownloadOutcome:
    """Fetch a deployment's artifact from GCC into the bucket, verified, in one round of tries.

    Runs at most once at a time per deployment (an advisory lock held for the round); a
    deployment already downloaded, or no longer waiting for its artifact, is left alone.
    """
    async with runtime.session_factory() as lock_session, lock_session.begin():
        key = repository.advisory_key(deployment_id)
        if not await repository.try_advisory_xact_lock(lock_session, key):
            log.info("intake.download.skipped", deployment_id=str(deployment_id), reason="running")
            return DownloadOutcome.ALREADY_RUNNING
        deployment = await _lease(runtime, deployment_id)
        if deployment is None:
            return DownloadOutcome.NOT_NEEDED
        with (
            span(
                "release.download",
                parent=deployment.trace_parent,
                attributes={"wrktalk.deployment_id": str(deployment_id)},
            ) as current,
            log_context(release_id=deployment.gcc_release_id, deployment_id=deployment_id),
        ):
            artifact_type = deployment.artifact_type
            started = time.perf_counter()
            staged, download_errors = await _staged_or_downloaded(runtime, deployment)
            if staged is None:
                _count_round(artifact_type, None, time.perf_counter() - started)
                await _record_failure(runtime, deployment_id, _download_failure(download_errors))
                current.set_status(StatusCode.ERROR, "download failed")
                return DownloadOutcome.FAILED
            info, store_errors = await _tries(
                runtime,
                deployment,
                "store",
                lambda: staging.store_staged(
                    object_store=runtime.object_store,
                    path=staged,
                    version=deployment.version,
                    artifact_type=ArtifactType(artifact_type),
                    expected_sha256=_expected(runtime, deployment)[0],
                ),
                staging.ArtifactStoreError,
            )
            if info is None:
                metrics.BUCKET_STORE_FAILURES.labels(artifact_type).inc()
                await _record_failure(runtime, deployment_id, _store_failure(runtime, store_errors))
                current.set_status(StatusCode.ERROR, "store failed")
                return DownloadOutcome.STORE_FAILED
            _count_round(artifact_type, info, time.perf_counter() - started)
            await _record_success(runtime, deployment, info, tries=len(download_errors) + 1)
    await staging.discard_staged(staged)
    await cleanup.apply_retention(runtime, ArtifactType(artifact_type), protect={info.key})
    return DownloadOutcome.DOWNLOADED


def _count_round(artifact_type: str, info: ObjectInfo | None, seconds: float) -> None:
    metrics.DOWNLOADS.labels(artifact_type, "failed" if info is None else "downloaded").inc()
    metrics.DOWNLOAD_DURATION.labels(artifact_type).observe(seconds)
    if info is not None:
        metrics.DOWNLOAD_BYTES.labels(artifact_type).inc(info.size)


async def retry_downloads(*, runtime: Runtime) -> list[uuid.UUID]:
    """Send the download task again for every deployment whose next download time has come.

    That is a ``downloadFailed`` deployment after its retry interval, and also a ``pending``
    one whose first download never ran (the task was lost with a broker outage).
    """
    now = runtime.clock.now()
    lease_until = now + timedelta(seconds=runtime.settings.download_retry_interval_seconds)
    async with session_scope(runtime.session_factory) as session:
        claimed = await repository.claim_due_downloads(session, now=now, lease_until=lease_until)
        for deployment_id in claimed:
            request_download(session, deployment_id=deployment_id, send_task=runtime.send_task)
    if claimed:
        log.info("intake.download.retries_sent", count=len(claimed))
    return list(claimed)


async def _lease(runtime: Runtime, deployment_id: uuid.UUID) -> ScheduledDeployment | None:
    """The deployment if it still needs its artifact, leased for a retry interval."""
    now = runtime.clock.now()
    async with session_scope(runtime.session_factory) as session:
        deployment = await repository.lock_deployment(session, deployment_id)
        if deployment is None:
            log.warning("intake.download.skipped", deployment_id=str(deployment_id), reason="gone")
            return None
        if deployment.chart_downloaded or deployment.status not in {
            str(status) for status in repository.DOWNLOADABLE_STATUSES
        }:
            log.info(
                "intake.download.skipped",
                deployment_id=str(deployment_id),
                reason="not_needed",
                status=deployment.status,
            )
            return None
        if not deployment.expected_sha256:
            log.info("intake.download.skipped", deployment_id=str(deployment_id), reason="no_sha")
            return None
        # A worker that dies mid-round leaves the deployment to beat after the interval.
        deployment.next_download_at = now + timedelta(
            seconds=runtime.settings.download_retry_interval_seconds
        )
        deployment.updated_at = now
        session.add(deployment)
    return deployment


def _expected(runtime: Runtime, deployment: ScheduledDeployment) -> tuple[str, int | None]:
    """The SHA256 and size the artifact must have: the signed manifest's, never the row's own
    column (the release's digest, and no size, for a release accepted unsigned).
    :class:`ManifestRefused` when the stored manifest no longer verifies."""
    artifact_type = ArtifactType(deployment.artifact_type)
    signed = signed_artifact(deployment.release_data, artifact_type, settings=runtime.settings)
    return signed or (deployment.expected_sha256, None)


async def _staged_or_downloaded(
    runtime: Runtime, deployment: ScheduledDeployment
) -> tuple[Path | None, list[str]]:
    """The verified file waiting from an earlier round, or one downloaded now (in up to three
    tries); None and the tries' errors when every try failed."""
    artifact_type = ArtifactType(deployment.artifact_type)
    try:
        expected_sha256, expected_size = _expected(runtime, deployment)
    except ManifestRefused as refusal:
        log.error(
            "intake.download.refused",
            deployment_id=str(deployment.id),
            reason=str(refusal.reason),
            error=refusal.message,
        )
        return None, [f"the stored signed manifest is refused: {refusal.message}"]
    directory = Path(runtime.settings.staging_directory)
    staged = await staging.staged_artifact(directory, expected_sha256)
    if staged is not None:
        log.info("intake.download.staged_found", deployment_id=str(deployment.id))
        return staged, []
    return await _tries(
        runtime,
        deployment,
        "download",
        lambda: staging.download_to_staging(
            gcc=runtime.gcc,
            staging=directory,
            version=deployment.version,
            artifact_type=artifact_type,
            expected_sha256=expected_sha256,
            expected_size=expected_size,
        ),
        artifacts.ArtifactFetchError,
    )


async def _tries(
    runtime: Runtime,
    deployment: ScheduledDeployment,
    step: str,
    attempt: Callable[[], Awaitable[Result]],
    failure: type[Exception],
) -> tuple[Result | None, list[str]]:
    """Up to three tries of one step of the round; its result, and the failed tries' errors."""
    errors: list[str] = []
    for number in range(1, TRIES_PER_ROUND + 1):
        try:
            result = await attempt()
        except failure as error:
            errors.append(str(error))
            log.warning(
                "intake.download.attempt_failed",
                deployment_id=str(deployment.id),
                version=deployment.version,
                step=step,
                attempt=number,
                error=str(error),
            )
            if number < TRIES_PER_ROUND:
                base = runtime.settings.download_retry_base_seconds
                await asyncio.sleep(backoff_delay(number - 1, base=base))
            continue
        log.info(
            "intake.download.succeeded" if step == "store" else "intake.download.staged",
            deployment_id=str(deployment.id),
            version=deployment.version,
            step=step,
            attempt=number,
        )
        return result, errors
    return None, errors


async def _record_success(
    runtime: Runtime, deployment: ScheduledDeployment, info: ObjectInfo, *, tries: int
) -> None:
    async with session_scope(runtime.session_factory) as session:
        await accept_stored_artifact(
            session,
            clock=runtime.clock,
            deployment_id=deployment.id,
            info=info,
            send_task=runtime.send_task,
            attempts=tries,
        )


@dataclass(frozen=True)
class _Failure:
    """What a failed round tells: the error kept on the deployment, the admins' email, and
    whether GCC hears of it again when the deployment had already failed otherwise."""

    error: str
    tries: int
    event: EmailEventName
    dedupe_prefix: str
    is_store: bool
    extra_context: dict[str, object]


def _download_failure(errors: list[str]) -> _Failure:
    return _Failure(
        error=f"{len(errors)} download tries failed; the last: {errors[-1]}",
        tries=len(errors),
        event=EmailEventName.DOWNLOAD_FAILED,
        dedupe_prefix="download-failed",
        is_store=False,
        extra_context={},
    )


def _store_failure(runtime: Runtime, errors: list[str]) -> _Failure:
    return _Failure(
        error=f"{STORE_ERROR_PREFIX} ({len(errors)} tries; the last: {errors[-1]}). It waits "
        "in the staging directory and is stored as soon as the bucket takes it.",
        tries=len(errors),
        event=EmailEventName.BUCKET_STORE_FAILED,
        dedupe_prefix="bucket-store-failed",
        is_store=True,
        extra_context={"bucket": runtime.settings.bucket_name},
    )


async def _record_failure(runtime: Runtime, deployment_id: uuid.UUID, failure: _Failure) -> None:
    now = runtime.clock.now()
    next_attempt_at = now + timedelta(seconds=runtime.settings.download_retry_interval_seconds)
    async with session_scope(runtime.session_factory) as session:
        deployment = await repository.lock_deployment(session, deployment_id)
        if deployment is None:
            return
        # GCC hears of the first failure, and of a store failure after a download failure.
        was_store_failure = (deployment.download_error or "").startswith(STORE_ERROR_PREFIX)
        tell_gcc = deployment.status == LocalDeploymentStatus.PENDING or (
            failure.is_store and not was_store_failure
        )
        if deployment.status in {str(status) for status in repository.DOWNLOADABLE_STATUSES}:
            deployment.status = str(LocalDeploymentStatus.DOWNLOAD_FAILED)
        deployment.download_error = failure.error
        deployment.download_attempts += failure.tries
        deployment.next_download_at = next_attempt_at
        deployment.updated_at = now
        session.add(deployment)
        await notify_admins(
            session,
            clock=runtime.clock,
            event=failure.event,
            dedupe_key=f"{failure.dedupe_prefix}:{deployment.gcc_release_id}",
            context={
                "deployment_id": str(deployment.id),
                "release_id": str(deployment.gcc_release_id),
                "version": deployment.version,
                "release_name": deployment.release_name,
                "artifact_type": deployment.artifact_type,
                "error": failure.error,
                "attempts": deployment.download_attempts,
                "next_attempt_at": next_attempt_at.isoformat(),
                **failure.extra_context,
            },
            send_task=runtime.send_task,
        )
        if tell_gcc:
            await enqueue_report(
                session,
                clock=runtime.clock,
                report=DeploymentStatusReport(
                    organization_name=runtime.settings.organization_name,
                    release_id=deployment.gcc_release_id,
                    status=DeploymentStatus.DOWNLOAD_FAILED,
                    current_version=await installation.running_version(session),
                    error_message=failure.error,
                ),
                send_task=runtime.send_task,
            )
    log.error(
        "intake.store.failed" if failure.is_store else "intake.download.failed",
        deployment_id=str(deployment_id),
        tries=failure.tries,
        next_attempt_at=next_attempt_at.isoformat(),
        error=failure.error,
    )
