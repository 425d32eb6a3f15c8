"""Intake: a release published at GCC becomes a pending deployment here, exactly once.

The signed webhook, the updates poll and an imported offline bundle all end in
:func:`record_release`, which is idempotent by GCC's release id: whichever arrives first creates
the deployment and (after the commit) sends its download, or, for a bundle whose artifact is in
the bucket already, records it at once; every later arrival changes nothing. The admins hear of
the release once its artifact is stored and verified (:func:`accept_stored_artifact`), when it
can be scheduled.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentStatus,
    DeploymentStatusReport,
    LocalDeploymentStatus,
    ReleasePublishedWebhook,
)
from customer_backend import metrics
from customer_backend.deployments import withdrawals
from customer_backend.installation import service as installation
from customer_backend.intake import repository
from customer_backend.intake.availability import accept_stored_artifact
from customer_backend.intake.manifests import check_release_manifest, report_refusal
from customer_backend.intake.verification import (
    parse_webhook_body,
    parse_withdrawal,
    verify_webhook,
)
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.settings import Settings
from objectstore import ObjectInfo
from servicekit.db import SessionFactory, after_commit, session_scope
from servicekit.errors import Forbidden, InvalidInput, ServiceError, Unauthorized
from servicekit.runtime import SendTask
from signing import ManifestRefused
from telemetry import current_traceparent, span
from timekeeping import Clock

log = structlog.get_logger(__name__)

FORCED_DEPLOYMENT_WINDOW = timedelta(hours=24)
"""A forced release must be deployed within this time of its receipt."""
DOWNLOAD_TASK = "intake.download_release"


@dataclass(frozen=True)
class IntakeOutcome:
    """What recording a release did."""

    deployment_id: uuid.UUID | None
    """None for a withdrawal (it creates no deployment)."""
    is_new: bool


def ensure_license_valid(*, settings: Settings, now: datetime) -> None:
    """403 "License expired" once the configured license expiry has passed."""
    if not license_is_valid(settings=settings, now=now):
        log.warning("intake.webhook.rejected", reason="license_expired")
        raise Forbidden("License expired", field="license")


def license_is_valid(*, settings: Settings, now: datetime) -> bool:
    """Whether the license allows taking new releases."""
    return settings.license_expires_at is None or settings.license_expires_at >= now


async def receive_webhook(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    headers: Mapping[str, str],
    body: bytes,
    send_task: SendTask,
    session_factory: SessionFactory,
) -> IntakeOutcome:
    """Verify, parse and record a ``release.published`` webhook (or a ``release.withdrawn``
    one: see :mod:`customer_backend.deployments.withdrawals`).

    401 when the signature or timestamp fails (nothing is read or stored), 422 for a body that
    is not a release or whose signed manifest is refused, 403 when the license expired. A
    refused manifest is logged and emailed to the admins in a transaction of its own
    (``session_factory``), since the request's rolls back. A repeated webhook id or release
    id changes nothing. Each webhook moves ``wrktalk_backend_webhooks_received_total``.
    The intake is the ``release.intake`` span, under GCC's delivery when the webhook carries
    its ``traceparent``; the new deployment keeps it for the download and the deploy task.
    """
    try:
        with span("release.intake"):
            outcome = await _receive_webhook(
                session,
                clock=clock,
                settings=settings,
                headers=headers,
                body=body,
                send_task=send_task,
                session_factory=session_factory,
            )
    except ServiceError as refused:
        metrics.WEBHOOKS_RECEIVED.labels(_refusal_outcome(refused)).inc()
        raise
    metrics.WEBHOOKS_RECEIVED.labels("accepted" if outcome.is_new else "duplicate").inc()
    return outcome


def _refusal_outcome(refused: ServiceError) -> str:
    if isinstance(refused, Unauthorized):
        return "unauthorized"
    if isinstance(refused, Forbidden):
        return "license_expired"
    if refused.field == "manifest":
        return "manifest_refused"
    return "invalid"


async def _receive_webhook(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    headers: Mapping[str, str],
    body: bytes,
    send_task: SendTask,
    session_factory: SessionFactory,
) -> IntakeOutcome:
    now = clock.now()
    webhook_id = verify_webhook(settings=settings, headers=headers, body=body, now=now)
    withdrawal = parse_withdrawal(body)
    if withdrawal is not None:
        is_new = await withdrawals.withdraw_release(
            session, clock=clock, settings=settings, withdrawal=withdrawal, send_task=send_task
        )
        await repository.remember_webhook(
            session, webhook_id=webhook_id, release_id=withdrawal.release_id, now=now
        )
        return IntakeOutcome(deployment_id=None, is_new=is_new)
    webhook, document = parse_webhook_body(body)
    ensure_license_valid(settings=settings, now=now)
    try:
        outcome = await record_release(
            session,
            clock=clock,
            settings=settings,
            webhook=webhook,
            release_data=document,
            send_task=send_task,
        )
    except ManifestRefused as refusal:
        async with session_scope(session_factory) as refusal_session:
            await report_refusal(
                refusal_session,
                clock=clock,
                webhook=webhook,
                refusal=refusal,
                source="webhook",
                send_task=send_task,
            )
        raise InvalidInput(
            f"The release's signed manifest was refused ({refusal.reason}): {refusal.message}.",
            field="manifest",
        ) from None
    is_new_id = await repository.remember_webhook(
        session, webhook_id=webhook_id, release_id=webhook.release.id, now=now
    )
    log.info(
        "intake.webhook.received",
        webhook_id=webhook_id,
        release_id=str(webhook.release.id),
        version=str(webhook.release.version),
        is_new_webhook=is_new_id,
        is_new_release=outcome.is_new,
    )
    return outcome


async def record_release(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    webhook: ReleasePublishedWebhook,
    release_data: dict[str, Any],
    send_task: SendTask,
    stored_artifact: ObjectInfo | None = None,
) -> IntakeOutcome:
    """Create the pending deployment of a release unless it exists; send the download, or
    with ``stored_artifact`` (an imported bundle's, verified in the bucket already) accept it.

    The release's signed manifest is verified first: :class:`ManifestRefused` (nothing
    stored) when it does not verify, has expired or disagrees with the webhook. A release
    without the artifact this installation deploys (no Compose bundle for a docker
    installation) is kept, so admins see it, but as ``downloadFailed`` with the reason, and
    reported so to GCC: retrying could not help.
    """
    check_release_manifest(webhook, settings=settings, now=clock.now())
    release = webhook.release
    version = str(release.version)
    values, missing_reason = _deployment_values(
        webhook, release_data=release_data, settings=settings, now=clock.now()
    )
    deployment_id = await repository.insert_deployment_once(session, values=values)
    if deployment_id is None:
        existing = await repository.deployment_id_of_release(session, release.id)
        log.info("intake.release.duplicate", release_id=str(release.id), version=version)
        return IntakeOutcome(deployment_id=existing, is_new=False)

    if missing_reason is not None:
        await _report_unusable_release(
            session,
            clock=clock,
            settings=settings,
            webhook=webhook,
            reason=missing_reason,
            send_task=send_task,
        )
        log.warning("intake.release.unusable", release_id=str(release.id), reason=missing_reason)
    elif stored_artifact is not None:
        await accept_stored_artifact(
            session,
            clock=clock,
            deployment_id=deployment_id,
            info=stored_artifact,
            send_task=send_task,
        )
    else:
        after_commit(session, lambda: send_task(DOWNLOAD_TASK, str(deployment_id)))
    log.info(
        "intake.release.recorded",
        release_id=str(release.id),
        deployment_id=str(deployment_id),
        version=version,
        is_forced=webhook.ruleset.is_forced,
    )
    return IntakeOutcome(deployment_id=deployment_id, is_new=True)


def _deployment_values(
    webhook: ReleasePublishedWebhook,
    *,
    release_data: dict[str, Any],
    settings: Settings,
    now: datetime,
) -> tuple[dict[str, Any], str | None]:
    """The row of a release's pending deployment, and why it cannot be deployed (None when
    it can): it lacks the artifact this installation deploys."""
    release = webhook.release
    artifact_type = settings.deployment_type.artifact_type
    expected_sha256 = release.sha256_for(artifact_type)
    version = str(release.version)
    forced = webhook.ruleset.is_forced
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "gcc_release_id": release.id,
        "release_name": f"v{version}",
        "version": version,
        "release_data": release_data,
        "artifact_type": str(artifact_type),
        "expected_sha256": expected_sha256 or "",
        "is_forced": forced,
        "force_deadline": now + FORCED_DEPLOYMENT_WINDOW if forced else None,
        "received_at": now,
        "status": str(LocalDeploymentStatus.PENDING),
        "chart_downloaded": False,
        "download_attempts": 0,
        "next_download_at": now,
        "reported_to_gcc": False,
        "trace_parent": current_traceparent(),
        "created_at": now,
        "updated_at": now,
    }
    if expected_sha256 is not None:
        return values, None
    missing_reason = (
        f"Release {version} has no {artifact_type} artifact, which this "
        f"{settings.deployment_type} installation deploys."
    )
    values.update(
        status=str(LocalDeploymentStatus.DOWNLOAD_FAILED),
        download_error=missing_reason,
        next_download_at=None,
    )
    return values, missing_reason


def request_download(
    session: AsyncSession, *, deployment_id: uuid.UUID, send_task: SendTask
) -> None:
    """Send the download task of a deployment once the session commits.

    For callers that find a deployment without its artifact (retention removed it) and need it.
    """
    after_commit(session, lambda: send_task(DOWNLOAD_TASK, str(deployment_id)))


async def _report_unusable_release(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    webhook: ReleasePublishedWebhook,
    reason: str,
    send_task: SendTask,
) -> None:
    version = str(webhook.release.version)
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.DOWNLOAD_FAILED,
        dedupe_key=f"download-failed:{webhook.release.id}",
        context={
            "release_id": str(webhook.release.id),
            "version": version,
            "release_name": f"v{version}",
            "artifact_type": str(settings.deployment_type.artifact_type),
            "error": reason,
            "attempts": 0,
            "next_attempt_at": None,
        },
        send_task=send_task,
    )
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentStatusReport(
            organization_name=settings.organization_name,
            release_id=webhook.release.id,
            status=DeploymentStatus.DOWNLOAD_FAILED,
            current_version=await installation.running_version(session),
            error_message=reason,
        ),
        send_task=send_task,
    )
