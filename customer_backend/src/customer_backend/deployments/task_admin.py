"""One agent task as admins see it: read by id (status, timeline, logs) and cancelled while
pending.

Cancelling a deploy task cancels its scheduled deployment (what the cancel route of the
deployment does); a rollback task is cancelled alone. A maintenance task follows the admins'
maintenance switch, so it is switched there, not cancelled here.
"""

from __future__ import annotations

import uuid

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AgentTaskDetailView,
    AgentTaskStatus,
    AgentTaskType,
    TaskTimelineEntry,
)
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments import service, views
from customer_backend.settings import Settings
from servicekit.errors import Conflict, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

TASK_LOG_LIMIT = 500
"""Most log lines a task's detail carries (the newest); the live stream has them all."""


async def task_detail(session: AsyncSession, *, task_id: uuid.UUID) -> AgentTaskDetailView:
    """The task, what happened to it, and its latest log lines; 404 for an unknown task."""
    task = await _task(session, task_id)
    lines = await agent_queue.latest_log_lines(session, task.id, limit=TASK_LOG_LIMIT)
    return AgentTaskDetailView(
        task=views.task_view(task),
        timeline=task_timeline(task),
        logs=[views.log_line_view(line) for line in lines],
        log_limit=TASK_LOG_LIMIT,
    )


async def cancel_task(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    task_id: uuid.UUID,
    admin_email: str,
) -> AgentTask:
    """Cancel a pending deploy or rollback task; 404 unknown, 409 once the agent took it (or
    for a maintenance switch)."""
    task = await _task(session, task_id)
    if task.type == AgentTaskType.MAINTENANCE:
        raise Conflict(
            "A maintenance task follows the maintenance switch; switch maintenance mode with "
            "PUT /api/admin/maintenance instead.",
            field="taskId",
        )
    if task.status != AgentTaskStatus.PENDING:
        raise Conflict(
            f"Only a pending task can be cancelled; task {task_id} is {task.status}.",
            field="taskId",
        )
    if task.deployment_id is not None:
        await service.cancel_deployment(
            session,
            clock=clock,
            settings=settings,
            deployment_id=task.deployment_id,
            admin_email=admin_email,
        )
    elif not await agent_queue.cancel_pending_task(
        session, task.id, now=clock.now(), reason=f"Cancelled by {admin_email}"
    ):
        raise Conflict(f"The agent has already started task {task_id}.", field="taskId")
    log.info("deployment.task.cancelled", task_id=str(task_id), type=task.type, admin=admin_email)
    await session.refresh(task)
    return task


async def _task(session: AsyncSession, task_id: uuid.UUID) -> AgentTask:
    task = await agent_queue.get_task(session, task_id)
    if task is None:
        raise NotFound(f"There is no task {task_id}.", field="taskId")
    return task


def task_timeline(task: AgentTask) -> list[TaskTimelineEntry]:
    """The moments of a task's life that its row records, oldest first."""
    entries = [TaskTimelineEntry(event="queued", at=task.created_at, detail=task.created_by)]
    if task.picked_up_at is not None:
        entries.append(TaskTimelineEntry(event="pickedUp", at=task.picked_up_at))
    if task.last_heartbeat_at is not None:
        entries.append(TaskTimelineEntry(event="lastHeartbeat", at=task.last_heartbeat_at))
    reason = views.tail(task.error_message)
    if task.status == AgentTaskStatus.CANCELLED:
        entries.append(TaskTimelineEntry(event="cancelled", at=task.updated_at, detail=reason))
    elif task.completed_at is not None:
        entries.append(TaskTimelineEntry(event=task.status, at=task.completed_at, detail=reason))
    return entries
