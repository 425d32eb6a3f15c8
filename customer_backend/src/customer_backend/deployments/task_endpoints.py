"""Control Tower task API: one agent task by id (status, timeline, logs), and cancelling it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from contracts import AgentTaskDetailView, CancelTaskResponse
from customer_backend.deployments import task_admin
from customer_backend.deps import ClockDep, CurrentAdmin, SessionDep, SettingsDep
from servicekit.openapi import error_responses

router = APIRouter(tags=["deployments"])


@router.get(
    "/api/admin/deployment/tasks/{task_id}",
    response_model=AgentTaskDetailView,
    responses=error_responses(404),
    summary="An agent task (a deploy, a rollback, a maintenance switch): status, timeline, logs",
)
async def task_detail(
    task_id: uuid.UUID, _admin: CurrentAdmin, session: SessionDep
) -> AgentTaskDetailView:
    """The task with its result, what happened to it when, and its latest log lines."""
    return await task_admin.task_detail(session, task_id=task_id)


@router.post(
    "/api/admin/deployment/tasks/{task_id}/cancel",
    response_model=CancelTaskResponse,
    responses=error_responses(404, 409),
    summary="Cancel a pending deploy or rollback task",
)
async def cancel_task(
    task_id: uuid.UUID,
    admin: CurrentAdmin,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CancelTaskResponse:
    """409 once the agent has taken the task, and for a maintenance switch (switch maintenance
    mode instead); cancelling a deploy task cancels its scheduled deployment."""
    task = await task_admin.cancel_task(
        session, clock=clock, settings=settings, task_id=task_id, admin_email=admin.email
    )
    return CancelTaskResponse(cancelled=True, task_id=task.id)
