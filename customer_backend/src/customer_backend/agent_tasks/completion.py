"""What happens when the agent reports a task's final status (spec 5.6).

This module records the end on the task itself; what the end means for the deployment (its
outcome, a history row, the current and previous artifact, the installation's current
version, the report to GCC and the admin email) belongs to the deployments domain: its handler
comes in as ``on_task_end`` (the runtime holds it), because the deployments domain sits above the
task queue and the queue cannot import it. Everything runs in the transaction that records the
status, so either all of it happens or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentTaskStatus, LocalDeploymentStatus, TaskResultStatus, TaskStatusUpdate
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.settings import Settings
from servicekit.runtime import SendTask
from timekeeping import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TaskEnd:
    """The facts of one finished task, as the agent reported them."""

    task: AgentTask
    outcome: LocalDeploymentStatus
    completed_at: datetime
    helm_revision: int | None
    error: str | None
    rolled_back_to: str | None
    reported_version: str | None
    app_version: str | None = None
    """The application version the agent reported running afterwards (spec 5.6 ``appVer``)."""


class TaskEndHandler(Protocol):
    """Runs, in the same transaction, after a task's end is recorded on the task."""

    async def __call__(
        self,
        session: AsyncSession,
        *,
        end: TaskEnd,
        clock: Clock,
        settings: Settings,
        send_task: SendTask | None,
    ) -> None: ...


def task_outcome(update: TaskStatusUpdate) -> LocalDeploymentStatus:
    """success, failed or rolledBack, from the status and the result the agent sent."""
    result_status = update.result.status if update.result is not None else None
    if result_status is TaskResultStatus.ROLLED_BACK:
        return LocalDeploymentStatus.ROLLED_BACK
    if update.status is AgentTaskStatus.FAILED or result_status is TaskResultStatus.FAILED:
        return LocalDeploymentStatus.FAILED
    return LocalDeploymentStatus.SUCCESS


def record_end(task: AgentTask, *, update: TaskStatusUpdate, now: datetime) -> TaskEnd:
    """Write the final status on the task; the facts of its end."""
    outcome = task_outcome(update)
    result = update.result
    error = update.error_message
    if outcome is not LocalDeploymentStatus.SUCCESS and not error:
        error = (result.message if result else None) or f"The agent reported '{outcome}'."
    task.status = str(update.status)
    task.completed_at = now
    task.result = result.model_dump(mode="json") if result is not None else None
    task.error_message = error
    # Whether running it again could succeed means something only for a task that did not succeed.
    task.retryable = update.retryable if outcome is not LocalDeploymentStatus.SUCCESS else None
    task.updated_at = now
    return TaskEnd(
        task=task,
        outcome=outcome,
        completed_at=now,
        helm_revision=result.helm_revision if result else None,
        error=error if outcome is not LocalDeploymentStatus.SUCCESS else None,
        rolled_back_to=str(result.rolled_back_to) if result and result.rolled_back_to else None,
        reported_version=str(result.release_version) if result and result.release_version else None,
        app_version=result.app_version if result else None,
    )


async def complete_task(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    task: AgentTask,
    update: TaskStatusUpdate,
    send_task: SendTask | None,
    on_task_end: TaskEndHandler,
) -> LocalDeploymentStatus:
    """Record a task's final status, then let ``on_task_end`` record everything that follows
    from it in the same transaction; the outcome."""
    end = record_end(task, update=update, now=clock.now())
    session.add(task)
    await on_task_end(session, end=end, clock=clock, settings=settings, send_task=send_task)
    await session.flush()
    log.info(
        "task.completion.recorded",
        task_id=str(task.id),
        type=task.type,
        outcome=str(end.outcome),
        deployment_id=str(task.deployment_id) if task.deployment_id else None,
    )
    return end.outcome
