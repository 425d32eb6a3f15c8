"""A release becomes available: its artifact is in the bucket, verified, and the admins hear.

Where a completed download (``intake.download``) and an imported offline bundle
(``intake.bundles``) both end, so the rule is written once.
"""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, ReleasePublishedWebhook
from customer_backend.artifacts import service as artifacts
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake import repository
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from objectstore import ObjectInfo
from servicekit.runtime import SendTask
from telemetry import current_traceparent
from timekeeping import Clock


async def accept_stored_artifact(
    session: AsyncSession,
    *,
    clock: Clock,
    deployment_id: uuid.UUID,
    info: ObjectInfo,
    send_task: SendTask | None,
    attempts: int = 0,
) -> None:
    """A deployment's artifact is in the bucket, verified against the signed manifest: record
    it, mark the deployment downloaded (``pending`` again after a failure) and queue the "new
    release" email. Where a completed download and an imported bundle both end."""
    deployment = await repository.lock_deployment(session, deployment_id)
    if deployment is None:
        return
    await artifacts.record_artifact(
        session,
        clock=clock,
        version=deployment.version,
        artifact_type=ArtifactType(deployment.artifact_type),
        info=info,
    )
    await repository.mark_downloaded(
        session,
        deployment_id=deployment_id,
        bucket_key=info.key,
        attempts=attempts,
        now=clock.now(),
        trace_parent=current_traceparent(),
    )
    await notify_release_available(session, clock=clock, deployment=deployment, send_task=send_task)


async def notify_release_available(
    session: AsyncSession,
    *,
    clock: Clock,
    deployment: ScheduledDeployment,
    send_task: SendTask | None = None,
) -> bool:
    """Queue the "new release" email (the urgent one for a forced release), once per release.

    Sent when the artifact is downloaded and verified, so the release the email asks admins to
    schedule can be scheduled.
    """
    if deployment.withdrawn_at is not None:
        return False  # withdrawn while it downloaded: the admins were told so instead
    ruleset = ReleasePublishedWebhook.model_validate(deployment.release_data).ruleset
    deadline = deployment.force_deadline
    return await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.FORCED_RELEASE_AVAILABLE
        if deployment.is_forced
        else EmailEventName.RELEASE_AVAILABLE,
        dedupe_key=f"release-available:{deployment.gcc_release_id}",
        context={
            "deployment_id": str(deployment.id),
            "release_id": str(deployment.gcc_release_id),
            "version": deployment.version,
            "release_name": deployment.release_name,
            "is_forced": deployment.is_forced,
            "force_deadline": deadline.isoformat() if deadline else None,
            "is_migration_required": ruleset.is_migration_required,
            "estimated_downtime": ruleset.estimated_downtime,
            "release_notes": ruleset.release_notes,
            "received_at": deployment.received_at.isoformat(),
        },
        send_task=send_task,
    )
