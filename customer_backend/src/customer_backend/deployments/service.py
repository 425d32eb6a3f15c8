"""Scheduling deployments from the Control Tower: listing, scheduling, cancelling, status.

Only one deployment may be active at a time: a deployment scheduled or in progress, or an
agent task pending or in progress, blocks scheduling and rollbacks (409). Whatever starts or
stops a deployment first takes the deployment lock, so concurrent requests are serialised and
exactly one of them wins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AgentTaskType,
    ArtifactType,
    DeploymentReleasesResponse,
    DeploymentScheduledReport,
    DeploymentStatus,
    DeploymentStatusReport,
    LocalDeploymentStatus,
)
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts import service as artifacts
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.deployments import bundles, history, repository, views, withdrawals
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.settings import Settings
from objectstore import ObjectStore
from servicekit.errors import Conflict, InvalidInput, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

PENDING_LIST_STATUSES = frozenset(
    {
        LocalDeploymentStatus.PENDING,
        LocalDeploymentStatus.DOWNLOAD_FAILED,
        LocalDeploymentStatus.MISSED_SCHEDULE,
        LocalDeploymentStatus.DEADLINE_EXCEEDED,
        LocalDeploymentStatus.FAILED,
        LocalDeploymentStatus.ROLLED_BACK,
        LocalDeploymentStatus.CANCELLED,
    }
)
"""Releases that wait for an admin (listed under ``pending``)."""

SCHEDULABLE_STATUSES = frozenset(
    {
        LocalDeploymentStatus.PENDING,
        LocalDeploymentStatus.MISSED_SCHEDULE,
        LocalDeploymentStatus.FAILED,
        LocalDeploymentStatus.ROLLED_BACK,
        LocalDeploymentStatus.DEADLINE_EXCEEDED,
        LocalDeploymentStatus.CANCELLED,
    }
)
"""Statuses from which an admin may schedule: a forced release past its deadline can still be
deployed (spec 10.2), a cancelled schedule can be set again, and a deployment that failed
(whether or not the previous version was restored) can be tried again once its cause is fixed."""


async def list_releases(
    session: AsyncSession, *, status: LocalDeploymentStatus | None = None
) -> DeploymentReleasesResponse:
    """Pending and scheduled deployments and the history, optionally only of ``status``."""
    wanted = set(PENDING_LIST_STATUSES) | set(repository.ACTIVE_DEPLOYMENT_STATUSES)
    if status is not None:
        wanted &= {status}
    deployments = await repository.deployments_with_statuses(session, wanted)
    task_ids = await agent_queue.latest_task_ids(session, [d.id for d in deployments])
    pending, scheduled = [], []
    for deployment in deployments:
        view = views.deployment_view(deployment, task_id=task_ids.get(deployment.id))
        if deployment.status in repository.ACTIVE_DEPLOYMENT_STATUSES:
            scheduled.append(view)
        else:
            pending.append(view)
    scheduled.sort(key=lambda view: view.scheduled_for or view.created_at)
    return DeploymentReleasesResponse(
        pending=pending, scheduled=scheduled, history=await history.history(session)
    )


async def ensure_nothing_active(session: AsyncSession) -> None:
    """409 while a deployment is scheduled or in progress or an agent task is queued or running."""
    deployment = await repository.active_deployment(session)
    if deployment is not None:
        raise Conflict(
            f"Deployment already in progress: {deployment.release_name} is {deployment.status}."
        )
    task = await agent_queue.active_task(session)
    if task is not None:
        raise Conflict(f"Deployment already in progress: a {task.type} task is {task.status}.")


async def schedule_deployment(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    deployment_id: uuid.UUID,
    scheduled_for: datetime,
    admin_email: str,
) -> AgentTask:
    """Schedule a downloaded release and queue its deploy task for the agent.

    404 for an unknown deployment; 422 for a time in the past, a release not downloaded or a
    status that cannot be scheduled; 409 while anything else is active or when GCC withdrew
    the release.
    """
    now = clock.now()
    if await repository.get_deployment(session, deployment_id) is None:
        raise NotFound(f"There is no deployment {deployment_id}.", field="deploymentId")
    if scheduled_for < now:
        raise InvalidInput(
            f"scheduledFor {scheduled_for.isoformat()} is in the past (now is {now.isoformat()}).",
            field="scheduledFor",
        )
    await repository.lock_deployments(session)
    await ensure_nothing_active(session)
    deployment = await repository.get_deployment(session, deployment_id, for_update=True)
    assert deployment is not None
    withdrawals.refuse_withdrawn(deployment)
    artifact = await _schedulable_artifact(session, object_store, deployment)
    task = await agent_queue.queue_task(
        session,
        task_type=AgentTaskType.DEPLOY,
        deployment_id=deployment.id,
        payload=await bundles.deploy_payload(
            session,
            clock=clock,
            object_store=object_store,
            deployment=deployment,
            artifact=artifact,
            deployment_type=settings.deployment_type,
        ),
        execute_after=scheduled_for,
        created_by=admin_email,
        now=now,
        trace_parent=deployment.trace_parent,
    )
    _mark_scheduled(deployment, scheduled_for=scheduled_for, admin_email=admin_email, now=now)
    await session.flush()
    await _announce_schedule(
        session, clock=clock, settings=settings, deployment=deployment, task=task
    )
    return task


def _mark_scheduled(
    deployment: ScheduledDeployment, *, scheduled_for: datetime, admin_email: str, now: datetime
) -> None:
    """The deployment waits for its task; what a previous attempt left is cleared."""
    deployment.status = LocalDeploymentStatus.SCHEDULED
    deployment.scheduled_for = scheduled_for
    deployment.scheduled_by = admin_email
    deployment.started_at = None
    deployment.completed_at = None
    deployment.helm_revision = None
    deployment.error_message = None
    deployment.updated_at = now


async def _announce_schedule(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    deployment: ScheduledDeployment,
    task: AgentTask,
) -> None:
    """GCC hears of the schedule, admins get their email, and the log says who set it."""
    assert deployment.scheduled_for is not None
    assert deployment.scheduled_by is not None
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentScheduledReport(
            organization_name=settings.organization_name,
            release_id=deployment.gcc_release_id,
            scheduled_for=deployment.scheduled_for,
        ),
        trace_parent=deployment.trace_parent,
    )
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.DEPLOYMENT_SCHEDULED,
        dedupe_key=f"deployment_scheduled:{task.id}",
        context={
            **deployment_context(deployment),
            "scheduledFor": deployment.scheduled_for.isoformat(),
            "scheduledBy": deployment.scheduled_by,
            "taskId": str(task.id),
        },
    )
    log.info(
        "deployment.schedule.accepted",
        deployment_id=str(deployment.id),
        version=deployment.version,
        scheduled_for=deployment.scheduled_for.isoformat(),
        admin=deployment.scheduled_by,
    )


async def _schedulable_artifact(
    session: AsyncSession, object_store: ObjectStore, deployment: ScheduledDeployment
) -> LocalArtifact:
    """The verified artifact of a deployment an admin may schedule; 422 otherwise."""
    if not deployment.chart_downloaded:
        raise InvalidInput(
            f"The artifact of {deployment.release_name} is not downloaded and verified yet "
            f"(status {deployment.status}); it can be scheduled once it is.",
            field="deploymentId",
        )
    if deployment.status not in SCHEDULABLE_STATUSES:
        allowed = ", ".join(sorted(SCHEDULABLE_STATUSES))
        raise InvalidInput(
            f"{deployment.release_name} is {deployment.status}; only a deployment that is "
            f"{allowed} can be scheduled.",
            field="deploymentId",
        )
    artifact = await artifacts.get_artifact(
        session, version=deployment.version, artifact_type=ArtifactType(deployment.artifact_type)
    )
    if (
        artifact is None
        or artifact.removed_at is not None
        or await object_store.head(artifact.bucket_key) is None
    ):
        raise InvalidInput(
            f"The artifact of {deployment.release_name} is no longer in the bucket.",
            field="deploymentId",
        )
    return artifact


async def cancel_deployment(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    deployment_id: uuid.UUID,
    admin_email: str,
) -> ScheduledDeployment:
    """Cancel a scheduled deployment and its pending task; 409 unless it is still scheduled."""
    now = clock.now()
    await repository.lock_deployments(session)
    deployment = await repository.get_deployment(session, deployment_id, for_update=True)
    if deployment is None:
        raise NotFound(f"There is no deployment {deployment_id}.", field="deploymentId")
    if deployment.status != LocalDeploymentStatus.SCHEDULED:
        raise Conflict(
            f"Only a scheduled deployment can be cancelled; {deployment.release_name} is "
            f"{deployment.status}."
        )
    task = await agent_queue.cancel_pending_task_of_deployment(
        session, deployment.id, now=now, reason=f"Cancelled by {admin_email}"
    )
    if task is None:
        raise Conflict(
            f"The agent has already started {deployment.release_name}; it cannot be cancelled."
        )
    deployment.status = LocalDeploymentStatus.CANCELLED
    deployment.updated_at = now
    session.add(deployment)
    await session.flush()
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentStatusReport(
            organization_name=settings.organization_name,
            release_id=deployment.gcc_release_id,
            status=DeploymentStatus.CANCELLED,
        ),
        trace_parent=deployment.trace_parent,
    )
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.DEPLOYMENT_CANCELLED,
        dedupe_key=f"deployment_cancelled:{task.id}",
        context={**deployment_context(deployment), "cancelledBy": admin_email},
    )
    log.info("deployment.cancel.accepted", deployment_id=str(deployment.id), admin=admin_email)
    return deployment


@dataclass(frozen=True)
class StreamTarget:
    """What a log stream follows: a deployment's tasks, or one task."""

    deployment_id: uuid.UUID | None
    task_id: uuid.UUID | None


async def resolve_stream_target(session: AsyncSession, *, target_id: uuid.UUID) -> StreamTarget:
    """A deployment id, or else a task id (rollbacks have no deployment); 404 for neither."""
    if await repository.get_deployment(session, target_id) is not None:
        return StreamTarget(deployment_id=target_id, task_id=None)
    if await agent_queue.get_task(session, target_id) is not None:
        return StreamTarget(deployment_id=None, task_id=target_id)
    raise NotFound(f"There is no deployment or task {target_id}.", field="deploymentId")


def deployment_context(deployment: ScheduledDeployment) -> dict[str, object]:
    """What every deployment email can show."""
    return {
        "deploymentId": str(deployment.id),
        "releaseName": deployment.release_name,
        "version": deployment.version,
        "isForced": deployment.is_forced,
        "forceDeadline": deployment.force_deadline.isoformat()
        if deployment.force_deadline
        else None,
    }
