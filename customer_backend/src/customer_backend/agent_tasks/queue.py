"""The agent task queue as the other domains use it: queue, find, cancel and time out tasks.

The deployments domain decides what work the agent gets and what a task's end means for a
deployment; this module owns the task rows themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentTaskStatus, AgentTaskType
from customer_backend.agent_tasks import repository
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from telemetry import current_traceparent

TERMINAL_TASK_STATUSES = frozenset(
    {AgentTaskStatus.COMPLETED, AgentTaskStatus.FAILED, AgentTaskStatus.CANCELLED}
)


async def queue_task(
    session: AsyncSession,
    *,
    task_type: AgentTaskType,
    payload: dict[str, Any],
    execute_after: datetime,
    created_by: str,
    now: datetime,
    deployment_id: uuid.UUID | None = None,
    trace_parent: str | None = None,
) -> AgentTask:
    """Add a pending task the agent claims from ``execute_after`` on.

    The task continues the trace ``trace_parent`` names (its release's), else the current
    span's (the request that queued it); the agent receives it with the task.
    """
    task = AgentTask(
        type=task_type,
        status=AgentTaskStatus.PENDING,
        deployment_id=deployment_id,
        payload=payload,
        execute_after=execute_after,
        created_by=created_by,
        trace_parent=trace_parent or current_traceparent(),
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    return task


async def active_task(session: AsyncSession) -> AgentTask | None:
    """A task that is pending or in progress, if any."""
    return await repository.active_task(session)


async def get_task(session: AsyncSession, task_id: uuid.UUID) -> AgentTask | None:
    """The task, or None."""
    return await repository.get_task(session, task_id)


async def existing_task_ids(
    session: AsyncSession, task_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``task_ids`` that are agent tasks."""
    return await repository.existing_task_ids(session, task_ids)


async def run_times(
    session: AsyncSession, task_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[datetime, datetime]]:
    """When each of ``task_ids`` that ended was picked up and completed."""
    return await repository.run_times(session, task_ids)


async def tasks_of_deployment(session: AsyncSession, deployment_id: uuid.UUID) -> list[AgentTask]:
    """The deployment's tasks, oldest first."""
    return await repository.tasks_of_deployment(session, deployment_id)


async def latest_task_ids(
    session: AsyncSession, deployment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The newest task of each deployment that has one."""
    return await repository.latest_task_ids(session, deployment_ids)


async def cancel_pending_task_of_deployment(
    session: AsyncSession, deployment_id: uuid.UUID, *, now: datetime, reason: str
) -> AgentTask | None:
    """Cancel the deployment's pending task; None when it has none (the agent took it)."""
    task = await repository.pending_task_of_deployment(session, deployment_id)
    if task is None or not await repository.cancel_pending_task(
        session, task.id, now=now, reason=reason
    ):
        return None
    return task


async def files_in_use(session: AsyncSession) -> set[str]:
    """Bucket keys of every file a pending or running task refers to (the agent is yet to
    download them, or is using them; a rollback by version names its artifact only there)."""
    keys: set[str] = set()
    for payload in await repository.active_task_payloads(session):
        keys.update(payload_bucket_keys(payload))
    return keys


def payload_bucket_keys(payload: Any) -> Iterator[str]:
    """The bucket key of every file reference (an object with ``bucketPath``) in a stored task
    payload: the chart of a deploy and of its ``previous`` bundle, the chart of a rollback's
    ``release``, and their values.yaml or .env revisions."""
    if isinstance(payload, list):
        for item in payload:
            yield from payload_bucket_keys(item)
    elif isinstance(payload, dict):
        bucket_path = payload.get("bucketPath")
        if isinstance(bucket_path, str):
            yield bucket_path
        for value in payload.values():
            yield from payload_bucket_keys(value)


@dataclass(frozen=True)
class TimedOutTask:
    """A task the queue failed for silence, and when the agent last showed it was working."""

    task: AgentTask
    last_activity_at: datetime


async def time_out_stalled_tasks(
    session: AsyncSession, *, now: datetime, idle_since: datetime, reason: str
) -> list[TimedOutTask]:
    """Fail in-progress tasks without pick-up or heartbeat since ``idle_since``."""
    timed_out = []
    for task in await repository.stalled_tasks(session, idle_since=idle_since):
        last_activity = max(
            (moment for moment in (task.picked_up_at, task.last_heartbeat_at) if moment),
            default=task.updated_at,
        )
        task.status = AgentTaskStatus.FAILED
        task.error_message = reason
        task.completed_at = now
        task.updated_at = now
        session.add(task)
        timed_out.append(TimedOutTask(task=task, last_activity_at=last_activity))
    return timed_out


async def cancel_overdue_tasks(
    session: AsyncSession, *, now: datetime, due_before: datetime, reason: str
) -> list[AgentTask]:
    """Cancel deploy and rollback tasks whose start window closed before ``due_before``.

    A maintenance switch is never missed: it waits for the agent however long the agent is
    away, so its start moves up to ``now`` instead (the claim takes only tasks in their window).
    """
    waiting = await repository.overdue_pending_tasks(
        session, due_before=due_before, task_types=[AgentTaskType.MAINTENANCE]
    )
    for task in waiting:
        task.execute_after = now
        task.updated_at = now
        session.add(task)
    tasks = await repository.overdue_pending_tasks(
        session,
        due_before=due_before,
        task_types=[AgentTaskType.DEPLOY, AgentTaskType.ROLLBACK],
    )
    for task in tasks:
        task.status = AgentTaskStatus.CANCELLED
        task.error_message = reason
        task.updated_at = now
        session.add(task)
    return tasks


async def cancel_pending_task(
    session: AsyncSession, task_id: uuid.UUID, *, now: datetime, reason: str
) -> bool:
    """Cancel the task if it is still pending; False when the agent got to it first."""
    return await repository.cancel_pending_task(session, task_id, now=now, reason=reason)


async def cancel_pending_tasks_of_type(
    session: AsyncSession, task_type: AgentTaskType, *, now: datetime, reason: str
) -> list[AgentTask]:
    """Cancel every pending task of a type (a newer one supersedes them); those cancelled."""
    tasks = await repository.pending_tasks_of_type(session, task_type)
    for task in tasks:
        task.status = AgentTaskStatus.CANCELLED
        task.error_message = reason
        task.updated_at = now
        session.add(task)
    await session.flush()
    return tasks


async def latest_log_lines(
    session: AsyncSession, task_id: uuid.UUID, *, limit: int
) -> list[TaskLogLine]:
    """The task's last ``limit`` log lines, oldest first."""
    return await repository.latest_log_lines(session, task_id, limit=limit)


async def log_lines_after(
    session: AsyncSession, task_ids: list[uuid.UUID], *, after_id: int, limit: int
) -> list[TaskLogLine]:
    """Log lines of ``task_ids`` with an id above ``after_id``, in order."""
    return await repository.log_lines_after(session, task_ids, after_id=after_id, limit=limit)
