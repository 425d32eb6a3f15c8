"""The agent API (spec 14.3): every route needs the ``X-Agent-Secret`` header."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AgentPollResponse,
    ConfigInsertRequest,
    ConfigInsertResponse,
    LicenseStatus,
    LogBatch,
    ReceivedAck,
    TaskHeartbeatAck,
    TaskStatusUpdate,
)
from customer_backend.agent_tasks import service
from customer_backend.deps import (
    AgentCaller,
    ClockDep,
    RuntimeDep,
    SettingsDep,
)
from customer_backend.runtime import Runtime
from servicekit.bodies import read_limited_body
from servicekit.db import session_scope
from servicekit.deps import request_session
from servicekit.openapi import Credentials, error_responses, json_request_body

router = APIRouter(tags=["agent"])

AGENT_SECRET = Credentials(
    scheme={"type": "apiKey", "in": "header", "name": "X-Agent-Secret"},
    path_prefixes=("/internal/",),
)
"""The agent's credentials: the shared agent secret in its own header, on every agent route."""

NO_TASK_BODY = AgentPollResponse(task=None).model_dump_json().encode()
"""The answer to a poll that claims nothing (nearly every poll), encoded once."""

MAX_LOG_BATCH_BYTES = 8 * 1024 * 1024
"""Largest log batch body; a larger one is refused with 413 (send fewer lines per batch)."""

# The session commits before the response is sent (``scope="function"``): an agent that acts
# on an answer at once (reports the status of a task it just claimed) finds it committed.
AgentSession = Annotated[AsyncSession, Depends(request_session, scope="function")]
TaskIdPath = Annotated[uuid.UUID, Path(alias="taskId", description="The task's id")]


POLL_PATH = "/internal/agent/tasks"


@router.get(
    POLL_PATH,
    response_model=AgentPollResponse,
    summary="Claim the next due task",
)
async def poll_for_task(_agent: AgentCaller, runtime: RuntimeDep) -> Response:
    """Claim the oldest task that is due (and not past its grace window), marked in progress,
    with presigned download URLs; ``{"task": null}`` when there is none. Records the poll."""
    return Response(await _poll_answer(runtime), media_type="application/json")


async def _poll_answer(runtime: Runtime) -> bytes:
    # The claim is one self-committing statement; only a claimed task needs a transaction.
    async with runtime.engine.connect() as connection:
        claimed = await service.claim_next_task(
            connection, clock=runtime.clock, settings=runtime.settings
        )
    task = None
    if claimed is not None:
        async with session_scope(runtime.session_factory) as session:
            task = await service.hand_out_task(
                session,
                claimed=claimed,
                clock=runtime.clock,
                settings=runtime.settings,
                object_store=runtime.object_store,
                on_task_end=runtime.on_task_end,
            )
    if task is None:
        return NO_TASK_BODY
    return AgentPollResponse(task=task).model_dump_json().encode()


@router.post(
    "/internal/agent/tasks/{taskId}/status",
    response_model=TaskHeartbeatAck,
    responses=error_responses(404, 409),
    summary="Report a task's status",
)
async def report_task_status(
    _agent: AgentCaller,
    task_id: TaskIdPath,
    update: TaskStatusUpdate,
    session: AgentSession,
    runtime: RuntimeDep,
) -> TaskHeartbeatAck:
    """Move the task forward (inProgress, then completed or failed). Repeating the current
    status is a no-op; any other change of a finished task is a 409."""
    return await service.update_task_status(
        session,
        clock=runtime.clock,
        settings=runtime.settings,
        task_id=task_id,
        update=update,
        on_task_end=runtime.on_task_end,
        send_task=runtime.send_task,
    )


@router.post(
    "/internal/agent/tasks/{taskId}/heartbeat",
    response_model=TaskHeartbeatAck,
    responses=error_responses(404),
    summary="Keep a running task alive",
)
async def task_heartbeat(
    _agent: AgentCaller, task_id: TaskIdPath, session: AgentSession, clock: ClockDep
) -> TaskHeartbeatAck:
    """Extend the task's life by the timeout window; ``taskStatus`` tells the agent whether
    the backend still counts it as running."""
    return await service.record_heartbeat(session, clock=clock, task_id=task_id)


@router.post(
    "/internal/agent/tasks/{taskId}/logs",
    response_model=ReceivedAck,
    responses=error_responses(404, 413),
    summary="Store a batch of a task's log lines",
    openapi_extra=json_request_body(LogBatch, description="A batch of the task's log lines."),
)
async def append_task_logs(
    _agent: AgentCaller, task_id: TaskIdPath, request: Request, session: AgentSession
) -> ReceivedAck:
    """At most 1,000 lines per batch and 8 MiB per body; lines are kept in the order sent."""
    body = await read_limited_body(
        request,
        limit=MAX_LOG_BATCH_BYTES,
        detail=f"The body is larger than {MAX_LOG_BATCH_BYTES} bytes; send fewer lines.",
    )
    batch = _parse_log_batch(body)
    return await service.append_logs(session, task_id=task_id, batch=batch)


@router.post(
    "/internal/config",
    response_model=ConfigInsertResponse,
    summary="Add a non-essential variable unless it exists",
)
async def insert_config(
    _agent: AgentCaller, request: ConfigInsertRequest, session: AgentSession, clock: ClockDep
) -> ConfigInsertResponse:
    """Insert the variable when its key is absent; an existing value is never overwritten."""
    return await service.insert_config(session, clock=clock, request=request)


@router.get(
    "/internal/license/status",
    response_model=LicenseStatus,
    summary="Whether the license allows deploying",
)
async def license_status(
    _agent: AgentCaller, clock: ClockDep, settings: SettingsDep
) -> LicenseStatus:
    """``valid`` and ``expiresAt`` (null when the license does not expire)."""
    return service.license_status(clock=clock, settings=settings)


def _parse_log_batch(body: bytes) -> LogBatch:
    """Validate like a declared body parameter, so errors keep the usual shape."""
    try:
        return LogBatch.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors, body=body) from None
