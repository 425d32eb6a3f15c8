"""Control Tower deployment API: releases, scheduling, cancelling, rollback, status, live logs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import WithJsonSchema

from contracts import (
    MAX_STORED_INTEGER,
    AgentStatusView,
    CancelDeploymentResponse,
    DeploymentDetailView,
    DeploymentLogPage,
    DeploymentReleasesResponse,
    LocalDeploymentStatus,
    RollbackRequest,
    RollbackResponse,
    ScheduleDeploymentRequest,
    ScheduleDeploymentResponse,
)
from customer_backend.admins.models import Admin
from customer_backend.deployments import history, logstream, rollback, service
from customer_backend.deps import (
    ClockDep,
    CurrentAdmin,
    RuntimeDep,
    SessionDep,
    SettingsDep,
    admin_of_token,
)
from customer_backend.installation import service as installation
from servicekit.db import session_scope
from servicekit.errors import InvalidInput
from servicekit.openapi import error_responses

router = APIRouter(tags=["deployments"])


async def _admin_for_stream(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Admin:
    # A stream may stay open for an hour: authenticate in a session of its own that is closed
    # before streaming starts, instead of the request session held until the response ends.
    async with session_scope(runtime.session_factory) as session:
        return await admin_of_token(session, authorization)


StreamAdmin = Annotated[Admin, Depends(_admin_for_stream)]


@router.get(
    "/api/admin/deployment/releases",
    response_model=DeploymentReleasesResponse,
    summary="Pending and scheduled deployments, and the history",
)
async def list_releases(
    _admin: CurrentAdmin,
    session: SessionDep,
    status: Annotated[LocalDeploymentStatus | None, Query()] = None,
) -> DeploymentReleasesResponse:
    """`{pending, scheduled, history}`; `status` keeps only deployments in that status."""
    return await service.list_releases(session, status=status)


@router.post(
    "/api/admin/deployment/schedule",
    response_model=ScheduleDeploymentResponse,
    responses=error_responses(404, 409),
    summary="Schedule a release for the agent to deploy",
)
async def schedule_deployment(
    body: ScheduleDeploymentRequest,
    admin: CurrentAdmin,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> ScheduleDeploymentResponse:
    """409 while another deployment is scheduled or in progress; 422 for a time in the past or
    a release not downloaded; 404 for an unknown deployment."""
    task = await service.schedule_deployment(
        session,
        clock=clock,
        settings=settings,
        object_store=runtime.object_store,
        deployment_id=body.deployment_id,
        scheduled_for=body.scheduled_for,
        admin_email=admin.email,
    )
    return ScheduleDeploymentResponse(scheduled=True, task_id=task.id)


@router.post(
    "/api/admin/deployment/rollback",
    response_model=RollbackResponse,
    responses=error_responses(404, 409, 502),
    summary="Roll back to a Helm revision or re-deploy an earlier version",
)
async def request_rollback(
    body: RollbackRequest,
    admin: CurrentAdmin,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
) -> RollbackResponse:
    """`targetRevision` (Helm only) or `targetVersion` (its artifact, fetched again from GCC
    when the bucket lost it, and the configuration it ran with). 409 while a deployment is
    active; 404 when neither the bucket nor GCC has the version."""
    task = await rollback.request_rollback(
        session,
        clock=clock,
        settings=settings,
        object_store=runtime.object_store,
        gcc=runtime.gcc,
        request=body,
        admin_email=admin.email,
    )
    return RollbackResponse(rollback_initiated=True, task_id=task.id)


@router.post(
    "/api/admin/deployment/{deployment_id}/cancel",
    response_model=CancelDeploymentResponse,
    responses=error_responses(404, 409),
    summary="Cancel a scheduled deployment",
)
async def cancel_deployment(
    deployment_id: uuid.UUID,
    admin: CurrentAdmin,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> CancelDeploymentResponse:
    """Only a scheduled deployment whose task the agent has not started; 409 otherwise."""
    deployment = await service.cancel_deployment(
        session,
        clock=clock,
        settings=settings,
        deployment_id=deployment_id,
        admin_email=admin.email,
    )
    return CancelDeploymentResponse(cancelled=True, deployment_id=deployment.id)


@router.get(
    "/api/admin/deployment/{deployment_id}",
    response_model=DeploymentDetailView,
    responses=error_responses(404),
    summary="A deployment with its tasks, results and timings",
)
async def deployment_detail(
    deployment_id: uuid.UUID, _admin: CurrentAdmin, session: SessionDep
) -> DeploymentDetailView:
    """The deployment and its agent tasks, oldest first. The id may also be a rollback's task
    id (every history entry's `deploymentId` opens here); its `deployment` is then null."""
    return await history.deployment_detail(session, deployment_id=deployment_id)


@router.get(
    "/api/admin/deployment/{deployment_id}/logs",
    response_model=DeploymentLogPage,
    responses=error_responses(404),
    summary="Log lines of a deployment (or a rollback task), a page at a time",
)
async def deployment_logs(
    deployment_id: uuid.UUID,
    _admin: CurrentAdmin,
    session: SessionDep,
    after_id: Annotated[
        int, Query(alias="afterId", ge=0, le=MAX_STORED_INTEGER, description="Lines after it.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=history.MAX_LOG_PAGE, description="At most.")] = 500,
) -> DeploymentLogPage:
    """The lines stored so far after `afterId`; `isFinished` once every task has ended."""
    return await history.log_page(session, target_id=deployment_id, after_id=after_id, limit=limit)


@router.get(
    "/api/admin/deployment/{deployment_id}/logs/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "Server-Sent Events: one event per log line (`id` = line id, `data` "
            "= DeploymentLogLineView), then an `end` event (`data` = DeploymentLogEnd).",
        },
        **error_responses(404),
    },
    summary="Live log lines of a deployment (or a rollback task) as Server-Sent Events",
)
async def stream_logs(
    deployment_id: uuid.UUID,
    _admin: StreamAdmin,
    runtime: RuntimeDep,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID"),
        # Read as text (blank means from the start), published as the line id it must be.
        WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_STORED_INTEGER}),
    ] = None,
) -> StreamingResponse:
    """Lines already received, then new ones until the task ends; resume with Last-Event-ID.

    The id may also be a task id, for rollbacks, which belong to no deployment.
    """
    after_id = _parse_last_event_id(last_event_id)
    async with session_scope(runtime.session_factory) as session:
        target = await service.resolve_stream_target(session, target_id=deployment_id)
    return StreamingResponse(
        logstream.stream_logs(runtime.session_factory, target=target, after_id=after_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/api/admin/agent/status",
    response_model=AgentStatusView,
    summary="Whether the agent is polling",
)
async def agent_status(
    _admin: CurrentAdmin, session: SessionDep, clock: ClockDep
) -> AgentStatusView:
    """Online when the agent polled within the last 10 minutes."""
    return await installation.agent_status(session, clock=clock)


def _parse_last_event_id(value: str | None) -> int:
    if value is None or not value.strip():
        return 0
    try:
        after_id = int(value.strip())
    except ValueError:
        raise InvalidInput(
            "Last-Event-ID must be the id of a log line (a whole number).", field="Last-Event-ID"
        ) from None
    if not 0 <= after_id <= MAX_STORED_INTEGER:
        raise InvalidInput(
            f"Last-Event-ID must be between 0 and {MAX_STORED_INTEGER}.", field="Last-Event-ID"
        )
    return after_id
