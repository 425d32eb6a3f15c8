"""Downloading a release's artifact: three tries per round, rounds retried by beat.

One round is three tries with exponential backoff between them (``download_retry_base_seconds``,
then twice that). A round that fails leaves the deployment ``downloadFailed`` with the error,
tells the admins (once per release: a GCC outage must not fill their inbox every 15 minutes) and
GCC (once, when the deployment first fails), and sets ``next_download_at`` a retry interval
later, when ``intake.retry_downloads`` sends it again. A successful round records the artifact,
makes a ``downloadFailed`` deployment ``pending`` again, queues the "new release" email (once
per release) and applies retention.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import timedelta

import structlog

from contracts import ArtifactType, DeploymentStatus, DeploymentStatusReport, LocalDeploymentStatus
from customer_backend.artifacts import service as artifacts
from customer_backend.deployments import retention
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.installation import service as installation
from customer_backend.intake import repository
from customer_backend.intake.service import (
    notify_release_available,
    request_download,
)
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.runtime import Runtime
from objectstore import ObjectInfo
from servicekit.db import session_scope
from timekeeping import backoff_delay

log = structlog.get_logger(__name__)

TRIES_PER_ROUND = 3


class DownloadOutcome(enum.StrEnum):
    """What one ``intake.download_release`` run did."""

    DOWNLOADED = "downloaded"
    FAILED = "failed"
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
        info, errors = await _try_round(runtime, deployment)
        if info is None:
            await _record_failure(runtime, deployment_id, errors)
            return DownloadOutcome.FAILED
        await _record_success(runtime, deployment, info, tries=len(errors) + 1)
    await _apply_retention(runtime, ArtifactType(deployment.artifact_type), protect=info.key)
    return DownloadOutcome.DOWNLOADED


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


async def _try_round(
    runtime: Runtime, deployment: ScheduledDeployment
) -> tuple[ObjectInfo | None, list[str]]:
    """Up to three tries; the stored artifact's info, and the errors of the failed tries."""
    errors: list[str] = []
    for attempt in range(1, TRIES_PER_ROUND + 1):
        try:
            info = await artifacts.fetch_verified_artifact(
                gcc=runtime.gcc,
                object_store=runtime.object_store,
                version=deployment.version,
                artifact_type=ArtifactType(deployment.artifact_type),
                expected_sha256=deployment.expected_sha256,
            )
        except artifacts.ArtifactFetchError as error:
            errors.append(str(error))
            log.warning(
                "intake.download.attempt_failed",
                deployment_id=str(deployment.id),
                version=deployment.version,
                attempt=attempt,
                error=str(error),
            )
            if attempt < TRIES_PER_ROUND:
                base = runtime.settings.download_retry_base_seconds
                await asyncio.sleep(backoff_delay(attempt - 1, base=base))
            continue
        log.info(
            "intake.download.succeeded",
            deployment_id=str(deployment.id),
            version=deployment.version,
            key=info.key,
            size=info.size,
            attempt=attempt,
        )
        return info, errors
    return None, errors


async def _record_success(
    runtime: Runtime, deployment: ScheduledDeployment, info: ObjectInfo, *, tries: int
) -> None:
    async with session_scope(runtime.session_factory) as session:
        await artifacts.record_artifact(
            session,
            clock=runtime.clock,
            version=deployment.version,
            artifact_type=ArtifactType(deployment.artifact_type),
            info=info,
        )
        await repository.mark_downloaded(
            session,
            deployment_id=deployment.id,
            bucket_key=info.key,
            attempts=tries,
            now=runtime.clock.now(),
        )
        await notify_release_available(
            session, clock=runtime.clock, deployment=deployment, send_task=runtime.send_task
        )


async def _record_failure(runtime: Runtime, deployment_id: uuid.UUID, errors: list[str]) -> None:
    now = runtime.clock.now()
    next_attempt_at = now + timedelta(seconds=runtime.settings.download_retry_interval_seconds)
    error = f"{len(errors)} download tries failed; the last: {errors[-1]}"
    async with session_scope(runtime.session_factory) as session:
        deployment = await repository.lock_deployment(session, deployment_id)
        if deployment is None:
            return
        first_failure = deployment.status == LocalDeploymentStatus.PENDING
        if deployment.status in {str(status) for status in repository.DOWNLOADABLE_STATUSES}:
            deployment.status = str(LocalDeploymentStatus.DOWNLOAD_FAILED)
        deployment.download_error = error
        deployment.download_attempts += len(errors)
        deployment.next_download_at = next_attempt_at
        deployment.updated_at = now
        session.add(deployment)
        await notify_admins(
            session,
            clock=runtime.clock,
            event=EmailEventName.DOWNLOAD_FAILED,
            dedupe_key=f"download-failed:{deployment.gcc_release_id}",
            context={
                "deployment_id": str(deployment.id),
                "release_id": str(deployment.gcc_release_id),
                "version": deployment.version,
                "release_name": deployment.release_name,
                "artifact_type": deployment.artifact_type,
                "error": error,
                "attempts": deployment.download_attempts,
                "next_attempt_at": next_attempt_at.isoformat(),
            },
            send_task=runtime.send_task,
        )
        if first_failure:
            await enqueue_report(
                session,
                clock=runtime.clock,
                report=DeploymentStatusReport(
                    organization_name=runtime.settings.organization_name,
                    release_id=deployment.gcc_release_id,
                    status=DeploymentStatus.DOWNLOAD_FAILED,
                    current_version=await installation.running_version(session),
                    error_message=error,
                ),
                send_task=runtime.send_task,
            )
    log.error(
        "intake.download.failed",
        deployment_id=str(deployment_id),
        tries=len(errors),
        next_attempt_at=next_attempt_at.isoformat(),
        error=errors[-1],
    )


async def _apply_retention(runtime: Runtime, artifact_type: ArtifactType, *, protect: str) -> None:
    """Keep N per type; a failure only delays the cleanup to the next download."""
    try:
        async with session_scope(runtime.session_factory) as session:
            removed = await retention.apply_retention(
                session,
                clock=runtime.clock,
                object_store=runtime.object_store,
                artifact_type=artifact_type,
                keep=runtime.settings.artifact_retention,
                protect={protect},
            )
            await repository.forget_removed_artifacts(
                session, keys=removed, now=runtime.clock.now()
            )
    except Exception as error:  # cleanup must never fail a verified download
        log.warning(
            "artifacts.retention.failed", artifact_type=str(artifact_type), error=str(error)
        )
