"""Looking back: the history of deployments and rollbacks, and the log lines of any of them.

Every history entry carries a ``deploymentId`` that :func:`deployment_detail` and
:func:`log_page` open: a deploy's deployment, or a rollback's agent task.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AgentTaskStatus,
    DeploymentDetailView,
    DeploymentHistoryView,
    DeploymentLogPage,
)
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments import repository, views
from servicekit.errors import NotFound

HISTORY_LIMIT = 100
"""Most history entries listed by default."""

MAX_LOG_PAGE = 1000
"""Most log lines in one page."""


async def history(
    session: AsyncSession, *, limit: int = HISTORY_LIMIT, offset: int = 0
) -> list[DeploymentHistoryView]:
    """Deployments and rollbacks that ran, newest first, each openable by its deploymentId."""
    rows = await repository.history(session, limit=limit, offset=offset)
    task_ids = await agent_queue.existing_task_ids(session, [row.id for row in rows])
    unlinked = {
        row.version
        for row in rows
        if row.gcc_release_id is None or (row.deployment_id is None and row.id not in task_ids)
    }
    latest = await repository.deployments_by_version(session, unlinked)
    return [
        entry
        for row in rows
        if (
            entry := views.history_view(
                row, is_task_id=row.id in task_ids, latest=latest.get(row.version)
            )
        )
        is not None
    ]


async def durations(
    session: AsyncSession, entries: list[DeploymentHistoryView]
) -> dict[uuid.UUID, timedelta]:
    """How long each entry's agent task ran, from its pick-up to its end (an entry's id is the
    id of the task whose end wrote it); entries older than that rule have none."""
    times = await agent_queue.run_times(session, [entry.id for entry in entries])
    return {task_id: completed - picked for task_id, (picked, completed) in times.items()}


async def history_count(session: AsyncSession) -> int:
    """How many history entries there are, for paging through them."""
    return await repository.history_count(session)


async def _tasks_of(session: AsyncSession, target_id: uuid.UUID) -> list[AgentTask] | None:
    """The tasks of a deployment, or the one task of that id; None when it is neither."""
    if await repository.get_deployment(session, target_id) is not None:
        return await agent_queue.tasks_of_deployment(session, target_id)
    task = await agent_queue.get_task(session, target_id)
    return [task] if task is not None else None


async def deployment_detail(
    session: AsyncSession, *, deployment_id: uuid.UUID
) -> DeploymentDetailView:
    """A deployment with its tasks, their results and timings, or a rollback's task (whose
    ``deployment`` is null); 404 for neither."""
    deployment = await repository.get_deployment(session, deployment_id)
    if deployment is not None:
        tasks = await agent_queue.tasks_of_deployment(session, deployment.id)
        return DeploymentDetailView(
            deployment=views.deployment_view(deployment, task_id=tasks[-1].id if tasks else None),
            tasks=[views.task_view(task) for task in tasks],
        )
    task = await agent_queue.get_task(session, deployment_id)
    if task is None or task.deployment_id is not None:
        raise NotFound(f"There is no deployment or rollback {deployment_id}.", field="deploymentId")
    return DeploymentDetailView(deployment=None, tasks=[views.task_view(task)])


async def log_page(
    session: AsyncSession, *, target_id: uuid.UUID, after_id: int = 0, limit: int = MAX_LOG_PAGE
) -> DeploymentLogPage:
    """The log lines of a deployment's tasks (or of one task) after ``after_id``; 404 for an
    id that is neither."""
    tasks = await _tasks_of(session, target_id)
    if tasks is None:
        raise NotFound(f"There is no deployment or task {target_id}.", field="deploymentId")
    lines = await agent_queue.log_lines_after(
        session, [task.id for task in tasks], after_id=after_id, limit=limit
    )
    is_finished = len(lines) < limit and all(
        AgentTaskStatus(task.status) in agent_queue.TERMINAL_TASK_STATUSES for task in tasks
    )
    return DeploymentLogPage(
        lines=[views.log_line_view(line) for line in lines],
        next_after_id=lines[-1].id if lines else after_id,
        is_finished=is_finished,
    )
