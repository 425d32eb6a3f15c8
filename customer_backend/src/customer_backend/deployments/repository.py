"""Queries of the deployments domain."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, or_, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentTaskStatus, LocalDeploymentStatus
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.deployments.models import (
    DeploymentHistory,
    InstallationState,
    ScheduledDeployment,
)
from customer_backend.notifications.models import Notification

DEPLOYMENT_LOCK_KEY = 0x57_52_4B_44_45_50
"""Advisory lock that serialises whatever starts or stops a deployment ("WRKDEP")."""

ACTIVE_DEPLOYMENT_STATUSES = (LocalDeploymentStatus.SCHEDULED, LocalDeploymentStatus.IN_PROGRESS)
ACTIVE_TASK_STATUSES = (AgentTaskStatus.PENDING, AgentTaskStatus.IN_PROGRESS)
TERMINAL_TASK_STATUSES = frozenset(
    {AgentTaskStatus.COMPLETED, AgentTaskStatus.FAILED, AgentTaskStatus.CANCELLED}
)


async def lock_deployments(session: AsyncSession) -> None:
    """Hold the deployment lock until the transaction ends.

    Scheduling, cancelling and rollbacks take it before checking that nothing else is active,
    so of two concurrent requests exactly one finds the way clear. An advisory lock (not a row
    lock on ``installation_state``) keeps the agent's frequent polls, which update that row,
    from ever waiting on an admin.
    """
    await session.exec(  # type: ignore[call-overload]
        text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=DEPLOYMENT_LOCK_KEY)
    )


async def get_deployment(
    session: AsyncSession, deployment_id: uuid.UUID, *, for_update: bool = False
) -> ScheduledDeployment | None:
    """The deployment, re-read from the database (and locked) when ``for_update``."""
    statement = select(ScheduledDeployment).where(ScheduledDeployment.id == deployment_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    result = await session.exec(statement)
    return result.first()


async def active_deployment(session: AsyncSession) -> ScheduledDeployment | None:
    """A deployment that is scheduled or in progress, if any."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(col(ScheduledDeployment.status).in_(ACTIVE_DEPLOYMENT_STATUSES))
        .order_by(col(ScheduledDeployment.updated_at).desc())
        .limit(1)
    )
    return result.first()


async def active_task(session: AsyncSession) -> AgentTask | None:
    """An agent task that is pending or in progress, if any."""
    result = await session.exec(
        select(AgentTask)
        .where(col(AgentTask.status).in_(ACTIVE_TASK_STATUSES))
        .order_by(col(AgentTask.created_at).desc())
        .limit(1)
    )
    return result.first()


async def deployments_with_statuses(
    session: AsyncSession, statuses: Collection[str]
) -> list[ScheduledDeployment]:
    """Deployments in ``statuses``, newest release first."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(col(ScheduledDeployment.status).in_(list(statuses)))
        .order_by(col(ScheduledDeployment.received_at).desc())
    )
    return list(result.all())


async def latest_task_ids(
    session: AsyncSession, deployment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The newest task of each deployment."""
    if not deployment_ids:
        return {}
    result = await session.exec(
        select(AgentTask.deployment_id, AgentTask.id)
        .where(col(AgentTask.deployment_id).in_(list(deployment_ids)))
        .order_by(col(AgentTask.created_at), col(AgentTask.id))
    )
    # Oldest first, so each deployment ends up with its newest task.
    return {deployment_id: task_id for deployment_id, task_id in result.all() if deployment_id}


async def tasks_of_deployment(session: AsyncSession, deployment_id: uuid.UUID) -> list[AgentTask]:
    """The deployment's agent tasks, oldest first."""
    result = await session.exec(
        select(AgentTask)
        .where(AgentTask.deployment_id == deployment_id)
        .order_by(col(AgentTask.created_at), col(AgentTask.id))
    )
    return list(result.all())


async def get_task(session: AsyncSession, task_id: uuid.UUID) -> AgentTask | None:
    """The agent task."""
    result = await session.exec(select(AgentTask).where(AgentTask.id == task_id))
    return result.first()


async def cancel_pending_task(
    session: AsyncSession, task_id: uuid.UUID, *, now: datetime, reason: str
) -> bool:
    """Cancel the task if it is still pending; False when the agent got to it first."""
    result = await session.exec(
        update(AgentTask)
        .where(col(AgentTask.id) == task_id, col(AgentTask.status) == AgentTaskStatus.PENDING)
        .values(status=AgentTaskStatus.CANCELLED, error_message=reason, updated_at=now)
        .returning(col(AgentTask.id))
    )
    return result.first() is not None


async def pending_task_of_deployment(
    session: AsyncSession, deployment_id: uuid.UUID
) -> AgentTask | None:
    """The deployment's pending task, if any."""
    result = await session.exec(
        select(AgentTask)
        .where(
            AgentTask.deployment_id == deployment_id,
            AgentTask.status == AgentTaskStatus.PENDING,
        )
        .order_by(col(AgentTask.created_at).desc())
    )
    return result.first()


async def history(session: AsyncSession, *, limit: int) -> list[DeploymentHistory]:
    """Deployments and rollbacks that ran, newest first."""
    result = await session.exec(
        select(DeploymentHistory)
        .order_by(col(DeploymentHistory.deployed_at).desc(), col(DeploymentHistory.id))
        .limit(limit)
    )
    return list(result.all())


async def release_ids_by_version(
    session: AsyncSession, versions: Collection[str]
) -> dict[str, uuid.UUID]:
    """GCC's release id of each received version."""
    if not versions:
        return {}
    result = await session.exec(
        select(ScheduledDeployment.version, ScheduledDeployment.gcc_release_id)
        .where(col(ScheduledDeployment.version).in_(list(versions)))
        .order_by(col(ScheduledDeployment.received_at))
    )
    return dict(result.all())


async def latest_deployment_of_version(
    session: AsyncSession, version: str
) -> ScheduledDeployment | None:
    """The most recently received deployment of ``version``."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(ScheduledDeployment.version == version)
        .order_by(col(ScheduledDeployment.received_at).desc())
    )
    return result.first()


async def config_revision_of_version(session: AsyncSession, version: str) -> int | None:
    """The essential configuration revision ``version`` last ran with successfully."""
    result = await session.exec(
        select(DeploymentHistory.config_revision)
        .where(
            DeploymentHistory.version == version,
            DeploymentHistory.status == LocalDeploymentStatus.SUCCESS,
            col(DeploymentHistory.config_revision).is_not(None),
        )
        .order_by(
            col(DeploymentHistory.is_current).desc(), col(DeploymentHistory.deployed_at).desc()
        )
    )
    return result.first()


async def current_artifact(session: AsyncSession, artifact_type: str) -> LocalArtifact | None:
    """The artifact of the version that runs now."""
    result = await session.exec(
        select(LocalArtifact).where(
            LocalArtifact.type == artifact_type,
            col(LocalArtifact.is_current),
            col(LocalArtifact.removed_at).is_(None),
        )
    )
    return result.first()


async def artifact_of_version(
    session: AsyncSession, version: str, artifact_type: str
) -> LocalArtifact | None:
    """The artifact row of ``version`` (removed or not)."""
    result = await session.exec(
        select(LocalArtifact).where(
            LocalArtifact.version == version, LocalArtifact.type == artifact_type
        )
    )
    return result.first()


async def installation_state(session: AsyncSession) -> InstallationState | None:
    """The installation's single state row, if it exists yet."""
    return await session.get(InstallationState, 1)


async def claim_agent_offline_alert(
    session: AsyncSession, *, now: datetime, offline_before: datetime
) -> datetime | None:
    """Mark the current agent outage alerted; its last poll time, or None if nothing to alert.

    An outage is alerted once: when the agent has not polled since ``offline_before`` and no
    alert was raised since its last poll.
    """
    result = await session.exec(
        update(InstallationState)
        .where(
            col(InstallationState.id) == 1,
            col(InstallationState.last_agent_poll_at) <= offline_before,
            or_(
                col(InstallationState.agent_offline_alerted_at).is_(None),
                col(InstallationState.agent_offline_alerted_at)
                < col(InstallationState.last_agent_poll_at),
            ),
        )
        .values(agent_offline_alerted_at=now)
        .returning(col(InstallationState.last_agent_poll_at))
    )
    row = result.first()
    return row[0] if row is not None else None


async def stalled_tasks(session: AsyncSession, *, idle_since: datetime) -> list[AgentTask]:
    """In-progress tasks without pick-up or heartbeat since ``idle_since``, locked."""
    last_activity = func.coalesce(
        func.greatest(col(AgentTask.picked_up_at), col(AgentTask.last_heartbeat_at)),
        col(AgentTask.updated_at),
    )
    result = await session.exec(
        select(AgentTask)
        .where(AgentTask.status == AgentTaskStatus.IN_PROGRESS, last_activity < idle_since)
        .order_by(col(AgentTask.created_at))
        .with_for_update(skip_locked=True)
    )
    return list(result.all())


async def overdue_pending_tasks(session: AsyncSession, *, due_before: datetime) -> list[AgentTask]:
    """Pending tasks whose start window closed before ``due_before``, locked."""
    result = await session.exec(
        select(AgentTask)
        .where(
            AgentTask.status == AgentTaskStatus.PENDING, col(AgentTask.execute_after) < due_before
        )
        .order_by(col(AgentTask.execute_after))
        .with_for_update(skip_locked=True)
    )
    return list(result.all())


async def forced_deployments_due(
    session: AsyncSession, *, deadline_before: datetime
) -> list[ScheduledDeployment]:
    """Forced deployments not yet deployed whose deadline is before ``deadline_before``."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(
            col(ScheduledDeployment.is_forced),
            col(ScheduledDeployment.force_deadline).is_not(None),
            col(ScheduledDeployment.force_deadline) <= deadline_before,
            col(ScheduledDeployment.status).not_in(
                [LocalDeploymentStatus.SUCCESS, LocalDeploymentStatus.DEADLINE_EXCEEDED]
            ),
        )
        .order_by(col(ScheduledDeployment.force_deadline))
        .with_for_update(skip_locked=True)
    )
    return list(result.all())


async def existing_dedupe_keys(session: AsyncSession, keys: Collection[str]) -> set[str]:
    """Which of ``keys`` already have a notification."""
    if not keys:
        return set()
    result = await session.exec(
        select(Notification.dedupe_key).where(col(Notification.dedupe_key).in_(list(keys)))
    )
    return set(result.all())


async def log_lines_after(
    session: AsyncSession, task_ids: Sequence[uuid.UUID], *, after_id: int, limit: int
) -> list[TaskLogLine]:
    """Log lines of ``task_ids`` with an id above ``after_id``, in order."""
    if not task_ids:
        return []
    result = await session.exec(
        select(TaskLogLine)
        .where(col(TaskLogLine.task_id).in_(list(task_ids)), col(TaskLogLine.id) > after_id)
        .order_by(col(TaskLogLine.id))
        .limit(limit)
    )
    return list(result.all())
