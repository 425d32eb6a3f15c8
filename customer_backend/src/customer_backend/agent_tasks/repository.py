"""Queries of the agent task queue: the claim, status changes, heartbeats and log lines."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentTaskStatus, AgentTaskType, LocalDeploymentStatus
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine

POLL_RECORD_RESOLUTION = timedelta(seconds=1)
"""``last_agent_poll_at`` is rewritten at most once per this interval.

Every poll of every agent would otherwise update the one ``installation_state`` row, and
concurrent polls would queue on its row lock; offline detection works in minutes, so a poll
within a second of the recorded one changes nothing that matters and takes no lock."""

ACTIVE_TASK_STATUSES = (AgentTaskStatus.PENDING, AgentTaskStatus.IN_PROGRESS)

CLAIM_STATEMENT = (
    sa.text(
        """
WITH claimed AS (
    UPDATE agent_task
    SET status = :task_in_progress, picked_up_at = :now,
        attempts = attempts + 1, updated_at = :now
    WHERE id = (
        SELECT id FROM agent_task
        WHERE status = :task_pending AND execute_after <= :now AND execute_after >= :oldest
        ORDER BY execute_after, created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, type, payload, execute_after, deployment_id, trace_parent
), started AS (
    UPDATE scheduled_deployment
    SET status = :deployment_in_progress, started_at = :now, updated_at = :now
    FROM claimed
    WHERE scheduled_deployment.id = claimed.deployment_id
      AND claimed.type = :deploy_type
    RETURNING scheduled_deployment.id
), poll_touched AS (
    UPDATE installation_state
    SET last_agent_poll_at = :now, agent_offline_alerted_at = NULL, updated_at = :now
    WHERE id = 1
      AND (last_agent_poll_at IS NULL
           OR last_agent_poll_at <= :now - CAST(:resolution AS interval)
           OR agent_offline_alerted_at IS NOT NULL)
    RETURNING id
), poll_created AS (
    INSERT INTO installation_state (id, last_agent_poll_at, updated_at)
    SELECT 1, :now, :now
    WHERE NOT EXISTS (SELECT 1 FROM installation_state WHERE id = 1)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
SELECT id, type, payload, execute_after, deployment_id, trace_parent FROM claimed
"""
    )
    .bindparams(
        sa.bindparam("now", type_=sa.DateTime(timezone=True)),
        sa.bindparam("oldest", type_=sa.DateTime(timezone=True)),
        sa.bindparam("resolution", type_=sa.Interval()),
        task_in_progress=str(AgentTaskStatus.IN_PROGRESS),
        task_pending=str(AgentTaskStatus.PENDING),
        deployment_in_progress=str(LocalDeploymentStatus.IN_PROGRESS),
        deploy_type=str(AgentTaskType.DEPLOY),
    )
    .columns(
        sa.column("id", sa.Uuid()),
        sa.column("type", sa.String()),
        sa.column("payload", JSONB()),
        sa.column("execute_after", sa.DateTime(timezone=True)),
        sa.column("deployment_id", sa.Uuid()),
        sa.column("trace_parent", sa.String()),
    )
)
"""Every agent poll in one statement: ``now``, ``oldest`` (the oldest ``executeAfter`` still in
its grace window) and ``resolution`` (:data:`POLL_RECORD_RESOLUTION`) are bound per poll, the
statuses and the task type once, from the contracts' enums.

Claims the oldest due pending task (``FOR UPDATE SKIP LOCKED``: concurrent polls never get the
same task, and never wait for each other), marks it in progress and counts the attempt, marks
its deployment (deploy tasks) in progress, and records the poll in ``installation_state``
(clearing the offline alert), creating that row when it is missing. The claim writes those two
tables itself so that a poll stays one round trip."""


@dataclass(frozen=True)
class ClaimedTask:
    """The columns of a task a poll just claimed."""

    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    execute_after: datetime
    deployment_id: uuid.UUID | None
    trace_parent: str | None = None


async def claim_next_task(
    connection: AsyncConnection, *, now: datetime, grace: timedelta
) -> ClaimedTask | None:
    """Run :data:`CLAIM_STATEMENT`; the claimed task, or None when nothing is due.

    This is the path of every poll: the connection runs in autocommit, so the statement commits
    by itself (all the atomicity a claim needs) and a poll is one round trip, with no BEGIN or
    COMMIT around it; the driver keeps the statement prepared per connection.
    """
    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
    result = await autocommit.execute(
        CLAIM_STATEMENT, {"now": now, "oldest": now - grace, "resolution": POLL_RECORD_RESOLUTION}
    )
    row = result.mappings().first()
    if row is None:
        return None
    return ClaimedTask(
        id=row["id"],
        type=row["type"],
        payload=row["payload"],
        execute_after=row["execute_after"],
        deployment_id=row["deployment_id"],
        trace_parent=row["trace_parent"],
    )


async def lock_task(session: AsyncSession, task_id: uuid.UUID) -> AgentTask | None:
    """The task, locked until the transaction ends (status changes serialise on it)."""
    result = await session.exec(select(AgentTask).where(AgentTask.id == task_id).with_for_update())
    return result.first()


async def get_task(session: AsyncSession, task_id: uuid.UUID) -> AgentTask | None:
    """The agent task."""
    result = await session.exec(select(AgentTask).where(AgentTask.id == task_id))
    return result.first()


async def existing_task_ids(
    session: AsyncSession, task_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``task_ids`` that are agent tasks."""
    if not task_ids:
        return set()
    result = await session.exec(select(AgentTask.id).where(col(AgentTask.id).in_(list(task_ids))))
    return set(result.all())


async def run_times(
    session: AsyncSession, task_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[datetime, datetime]]:
    """When each of ``task_ids`` that ran to its end was picked up and completed."""
    if not task_ids:
        return {}
    result = await session.exec(
        select(AgentTask.id, AgentTask.picked_up_at, AgentTask.completed_at).where(
            col(AgentTask.id).in_(list(task_ids)),
            col(AgentTask.picked_up_at).is_not(None),
            col(AgentTask.completed_at).is_not(None),
        )
    )
    return {
        task_id: (picked, completed)
        for task_id, picked, completed in result.all()
        if picked is not None and completed is not None
    }


async def record_heartbeat(
    session: AsyncSession, *, task_id: uuid.UUID, now: datetime
) -> str | None:
    """Extend an in-progress task's life; the task's status, or None for an unknown task."""
    result = await session.exec(
        sa.update(AgentTask)
        .where(
            col(AgentTask.id) == task_id,
            col(AgentTask.status) == str(AgentTaskStatus.IN_PROGRESS),
        )
        .values(last_heartbeat_at=now, updated_at=now)
        .returning(col(AgentTask.status))
    )
    row = result.first()
    if row is not None:
        return str(row[0])
    return await task_status(session, task_id)


async def task_status(session: AsyncSession, task_id: uuid.UUID) -> str | None:
    """The task's status, or None for an unknown task."""
    result = await session.exec(select(AgentTask.status).where(AgentTask.id == task_id))
    status = result.first()
    return None if status is None else str(status)


async def insert_log_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert log lines in one statement; ids follow the order of ``rows``."""
    if rows:
        await session.exec(sa.insert(TaskLogLine).values(list(rows)))


async def active_task(session: AsyncSession) -> AgentTask | None:
    """A deploy or rollback task that is pending or in progress, if any (a maintenance switch
    takes seconds and never blocks a deployment)."""
    result = await session.exec(
        select(AgentTask)
        .where(
            col(AgentTask.status).in_(ACTIVE_TASK_STATUSES),
            AgentTask.type != AgentTaskType.MAINTENANCE,
        )
        .order_by(col(AgentTask.created_at).desc())
        .limit(1)
    )
    return result.first()


async def active_task_payloads(session: AsyncSession) -> list[Any]:
    """The payloads of pending and in-progress tasks."""
    result = await session.exec(
        select(AgentTask.payload).where(
            col(AgentTask.status).in_([str(s) for s in ACTIVE_TASK_STATUSES])
        )
    )
    return list(result.all())


async def latest_task_ids(
    session: AsyncSession, deployment_ids: Collection[uuid.UUID]
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


async def cancel_pending_task(
    session: AsyncSession, task_id: uuid.UUID, *, now: datetime, reason: str
) -> bool:
    """Cancel the task if it is still pending; False when the agent got to it first."""
    result = await session.exec(
        sa.update(AgentTask)
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


async def overdue_pending_tasks(
    session: AsyncSession, *, due_before: datetime, task_types: Collection[str]
) -> list[AgentTask]:
    """Pending tasks of ``task_types`` whose start window closed before ``due_before``, locked."""
    result = await session.exec(
        select(AgentTask)
        .where(
            AgentTask.status == AgentTaskStatus.PENDING,
            col(AgentTask.execute_after) < due_before,
            col(AgentTask.type).in_(list(task_types)),
        )
        .order_by(col(AgentTask.execute_after))
        .with_for_update(skip_locked=True)
    )
    return list(result.all())


async def is_maintenance_held(session: AsyncSession) -> bool:
    """Whether the admins' latest maintenance switch, the newest maintenance task not
    cancelled, turned maintenance mode on (a superseded switch is cancelled)."""
    result = await session.exec(
        select(AgentTask.payload)
        .where(
            AgentTask.type == AgentTaskType.MAINTENANCE,
            AgentTask.status != AgentTaskStatus.CANCELLED,
        )
        .order_by(col(AgentTask.created_at).desc())
        .limit(1)
    )
    payload = result.first()
    return isinstance(payload, dict) and payload.get("enabled") is True


async def pending_tasks_of_type(session: AsyncSession, task_type: str) -> list[AgentTask]:
    """Pending tasks of a type, oldest first, locked."""
    result = await session.exec(
        select(AgentTask)
        .where(AgentTask.type == task_type, AgentTask.status == AgentTaskStatus.PENDING)
        .order_by(col(AgentTask.created_at))
        .with_for_update()
    )
    return list(result.all())


async def latest_log_lines(
    session: AsyncSession, task_id: uuid.UUID, *, limit: int
) -> list[TaskLogLine]:
    """The task's last ``limit`` log lines, oldest first."""
    result = await session.exec(
        select(TaskLogLine)
        .where(TaskLogLine.task_id == task_id)
        .order_by(col(TaskLogLine.id).desc())
        .limit(limit)
    )
    return list(reversed(result.all()))


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
