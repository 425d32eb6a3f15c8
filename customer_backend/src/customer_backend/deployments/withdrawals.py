"""A release GCC withdrew: marked so, its pending schedule cancelled, the admins told.

A withdrawn release can no longer be scheduled (409). An installation that already deployed it
keeps running it; the email names the version GCC says to roll back to.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentStatus,
    DeploymentStatusReport,
    LocalDeploymentStatus,
    ReleaseWithdrawnWebhook,
)
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.deployments import repository
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.installation import service as installation
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.settings import Settings
from servicekit.errors import Conflict
from servicekit.runtime import SendTask
from timekeeping import Clock

log = structlog.get_logger(__name__)


def refuse_withdrawn(deployment: ScheduledDeployment) -> None:
    """409 when GCC withdrew the deployment's release."""
    if deployment.withdrawn_at is not None:
        raise Conflict(
            f"{deployment.release_name} was withdrawn by the vendor"
            f"{': ' + deployment.withdraw_reason if deployment.withdraw_reason else ''}; "
            "it cannot be scheduled.",
            field="deploymentId",
        )


async def _deployment_of_release(
    session: AsyncSession, release_id: uuid.UUID
) -> ScheduledDeployment | None:
    result = await session.exec(
        select(ScheduledDeployment)
        .where(ScheduledDeployment.gcc_release_id == release_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.first()


async def _cancel_schedule(
    session: AsyncSession, deployment: ScheduledDeployment, *, now: datetime
) -> bool:
    """Cancel the deployment's schedule unless the agent took it already; whether it did."""
    if deployment.status != LocalDeploymentStatus.SCHEDULED:
        return False
    task = await agent_queue.cancel_pending_task_of_deployment(
        session, deployment.id, now=now, reason="The release was withdrawn by the vendor"
    )
    if task is None:
        return False
    deployment.status = LocalDeploymentStatus.CANCELLED
    return True


async def _report_cancelled(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    deployment: ScheduledDeployment,
    send_task: SendTask | None,
) -> None:
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentStatusReport(
            organization_name=settings.organization_name,
            release_id=deployment.gcc_release_id,
            status=DeploymentStatus.CANCELLED,
            error_message="The release was withdrawn by the vendor.",
        ),
        trace_parent=deployment.trace_parent,
        send_task=send_task,
    )


async def withdraw_release(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    withdrawal: ReleaseWithdrawnWebhook,
    send_task: SendTask | None = None,
) -> bool:
    """Mark the release withdrawn, cancel its pending schedule and email the admins, once;
    False for a release this installation never received or already knows withdrawn."""
    await repository.lock_deployments(session)
    deployment = await _deployment_of_release(session, withdrawal.release_id)
    if deployment is None or deployment.withdrawn_at is not None:
        log.info(
            "intake.withdrawal.ignored",
            release_id=str(withdrawal.release_id),
            reason="unknown release" if deployment is None else "already withdrawn",
        )
        return False
    now = clock.now()
    deployment.withdrawn_at = now
    deployment.withdraw_reason = withdrawal.reason
    deployment.rollback_version = (
        str(withdrawal.rollback_version) if withdrawal.rollback_version else None
    )
    was_cancelled = await _cancel_schedule(session, deployment, now=now)
    deployment.updated_at = now
    session.add(deployment)
    await session.flush()
    if was_cancelled:
        await _report_cancelled(
            session, clock=clock, settings=settings, deployment=deployment, send_task=send_task
        )
    running = await installation.running_version(session)
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.RELEASE_WITHDRAWN,
        dedupe_key=f"release-withdrawn:{deployment.gcc_release_id}",
        context={
            "version": deployment.version,
            "reason": withdrawal.reason,
            "rollback_version": deployment.rollback_version,
            "was_cancelled": was_cancelled,
            "is_deployed": running is not None and str(running) == deployment.version,
            "deployment_id": str(deployment.id),
        },
        send_task=send_task,
    )
    log.warning(
        "intake.withdrawal.recorded",
        release_id=str(withdrawal.release_id),
        version=deployment.version,
        was_cancelled=was_cancelled,
    )
    return True
