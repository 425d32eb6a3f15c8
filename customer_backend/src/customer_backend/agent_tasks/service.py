"""The agent API: claim a task, report its status, heartbeats, logs, config and license."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AGENT_TASK_ADAPTER,
    AgentTaskStatus,
    AgentTaskType,
    ConfigInsertRequest,
    ConfigInsertResponse,
    DeployTask,
    LicenseStatus,
    LogBatch,
    MaintenanceTask,
    ReceivedAck,
    RollbackTask,
    TaskHeartbeatAck,
    TaskStatusUpdate,
)
from customer_backend import metrics
from customer_backend.agent_tasks import repository
from customer_backend.agent_tasks.completion import TaskEndHandler, complete_task
from customer_backend.config import service as config_service
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.settings import Settings
from logconfig import log_context
from objectstore import ObjectStore, ObjectStoreError
from servicekit.errors import Conflict, NotFound
from servicekit.runtime import SendTask
from telemetry import current_traceparent, span
from timekeeping import Clock

log = structlog.get_logger(__name__)

DOWNLOAD_URL_LIFETIME = timedelta(minutes=30)
"""How long the presigned URLs of a claimed task stay valid.

Long enough for the agent to fetch the previous bundle after a failed Compose deployment, short
enough that a leaked task is not a lasting key to the bucket."""

FINAL_STATUSES = frozenset({AgentTaskStatus.COMPLETED, AgentTaskStatus.FAILED})
CLOSED_STATUSES = FINAL_STATUSES | {AgentTaskStatus.CANCELLED}


async def claim_next_task(
    connection: AsyncConnection, *, clock: Clock, settings: Settings
) -> repository.ClaimedTask | None:
    """An agent's poll: record it, and claim the oldest due task, in one statement.

    A task is due from its ``executeAfter`` until ``schedule_grace_minutes`` later; after that
    it is never handed out (the missed-schedule timeline cancels it). Outside a transaction the
    claim commits by itself; :func:`hand_out_task` then prepares what the agent receives.
    """
    return await repository.claim_next_task(
        connection,
        now=clock.now(),
        grace=timedelta(minutes=settings.schedule_grace_minutes),
    )


async def hand_out_task(
    session: AsyncSession,
    *,
    claimed: repository.ClaimedTask,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    on_task_end: TaskEndHandler,
) -> DeployTask | RollbackTask | MaintenanceTask | None:
    """The claimed task as the agent receives it, with fresh presigned download URLs, and
    whether an admin holds maintenance mode on (so a deployment leaves it on).

    Queues the "deployment started" email (sent by the beat; the poll path does not touch the
    broker). A stored payload that does not make a valid task fails the task (admins are
    told) and returns None, instead of blocking the queue. This is the ``task.hand_out`` span,
    in the task's own trace (its release's).
    """
    with (
        span(
            "task.hand_out",
            parent=claimed.trace_parent,
            attributes={"wrktalk.task_id": str(claimed.id), "wrktalk.task_type": claimed.type},
        ),
        log_context(task_id=claimed.id, deployment_id=claimed.deployment_id),
    ):
        return await _hand_out_task(
            session,
            claimed=claimed,
            clock=clock,
            settings=settings,
            object_store=object_store,
            on_task_end=on_task_end,
        )


async def _hand_out_task(
    session: AsyncSession,
    *,
    claimed: repository.ClaimedTask,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    on_task_end: TaskEndHandler,
) -> DeployTask | RollbackTask | MaintenanceTask | None:
    try:
        payload = await with_download_urls(claimed.payload, object_store)
        fields = {
            "id": claimed.id,
            "type": claimed.type,
            "payload": payload,
            "executeAfter": claimed.execute_after,
            "deploymentId": claimed.deployment_id,
            # the agent's span of the task continues this hand-out's
            "traceparent": current_traceparent(),
        }
        if claimed.type != AgentTaskType.MAINTENANCE:
            fields["maintenanceHeld"] = await repository.is_maintenance_held(session)
        task = AGENT_TASK_ADAPTER.validate_python(fields)
    except (ValidationError, ObjectStoreError, ValueError) as exc:
        await _fail_unusable_task(
            session,
            clock=clock,
            settings=settings,
            task_id=claimed.id,
            reason=str(exc),
            on_task_end=on_task_end,
        )
        return None
    log.info("task.claim.succeeded", task_id=str(claimed.id), type=claimed.type)
    waited = (clock.now() - claimed.execute_after).total_seconds()
    metrics.CLAIM_LATENCY.observe(max(waited, 0.0))
    if isinstance(task, DeployTask):
        await notify_admins(
            session,
            clock=clock,
            event=EmailEventName.DEPLOYMENT_STARTED,
            dedupe_key=f"deployment_started:{claimed.id}",
            context={
                "version": task.payload.version,
                "started_at": clock.now(),
                "deployment_id": claimed.deployment_id,
                "task_id": claimed.id,
            },
        )
    return task


async def with_download_urls(payload: Any, object_store: ObjectStore) -> Any:
    """A copy of a stored payload where every file reference (an object with ``bucketPath``)
    has a presigned ``downloadUrl``."""
    if isinstance(payload, list):
        return [await with_download_urls(item, object_store) for item in payload]
    if not isinstance(payload, dict):
        return payload
    copy = {key: await with_download_urls(value, object_store) for key, value in payload.items()}
    bucket_path = payload.get("bucketPath")
    if isinstance(bucket_path, str):
        copy["downloadUrl"] = await object_store.presigned_get_url(
            bucket_path, int(DOWNLOAD_URL_LIFETIME.total_seconds())
        )
    return copy


async def _fail_unusable_task(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    task_id: uuid.UUID,
    reason: str,
    on_task_end: TaskEndHandler,
) -> None:
    task = await repository.lock_task(session, task_id)
    assert task is not None  # claimed in this transaction
    log.error("task.claim.payload_invalid", task_id=str(task_id), reason=reason)
    await complete_task(
        session,
        clock=clock,
        settings=settings,
        task=task,
        update=TaskStatusUpdate(
            status=AgentTaskStatus.FAILED,
            error_message=f"The backend could not hand out this task: {reason}",
        ),
        send_task=None,
        on_task_end=on_task_end,
    )


async def update_task_status(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    task_id: uuid.UUID,
    update: TaskStatusUpdate,
    on_task_end: TaskEndHandler,
    send_task: SendTask | None = None,
) -> TaskHeartbeatAck:
    """Move a task forward: inProgress, then completed or failed, once.

    Repeating the task's current status changes nothing; going back, changing a final status
    or finishing a task that was never claimed is a 409; an unknown task a 404.
    """
    task = await repository.lock_task(session, task_id)
    if task is None:
        raise NotFound(f"There is no task {task_id}.", field="taskId")
    current = AgentTaskStatus(task.status)
    requested = update.status
    if requested == current:
        return TaskHeartbeatAck(task_status=current)
    if current in CLOSED_STATUSES:
        raise Conflict(
            f"Task {task_id} is already {current}; it cannot become {requested}.", field="status"
        )
    if current is AgentTaskStatus.PENDING:
        raise Conflict(
            f"Task {task_id} has not been claimed; the agent takes a task with "
            "GET /internal/agent/tasks.",
            field="status",
        )
    # The task is in progress and the agent reports its end.
    await complete_task(
        session,
        clock=clock,
        settings=settings,
        task=task,
        update=update,
        send_task=send_task,
        on_task_end=on_task_end,
    )
    return TaskHeartbeatAck(task_status=requested)


async def record_heartbeat(
    session: AsyncSession, *, clock: Clock, task_id: uuid.UUID
) -> TaskHeartbeatAck:
    """Extend an in-progress task's life; the answer tells the agent the task's status."""
    status = await repository.record_heartbeat(session, task_id=task_id, now=clock.now())
    if status is None:
        raise NotFound(f"There is no task {task_id}.", field="taskId")
    return TaskHeartbeatAck(task_status=AgentTaskStatus(status))


async def append_logs(session: AsyncSession, *, task_id: uuid.UUID, batch: LogBatch) -> ReceivedAck:
    """Store a batch of a task's log lines, in the order sent."""
    if await repository.task_status(session, task_id) is None:
        raise NotFound(f"There is no task {task_id}.", field="taskId")
    await repository.insert_log_lines(
        session,
        [
            {
                "task_id": task_id,
                "logged_at": line.timestamp,
                "stream": str(line.stream),
                "line": line.line,
            }
            for line in batch.lines
        ],
    )
    return ReceivedAck()


async def insert_config(
    session: AsyncSession, *, clock: Clock, request: ConfigInsertRequest
) -> ConfigInsertResponse:
    """Add a release's non-essential variable unless the key exists (never overwrites)."""
    created = await config_service.add_env_if_absent(
        session, clock=clock, key=request.key, value=request.value
    )
    log.info("task.config_insert.succeeded", key=request.key, created=created)
    return ConfigInsertResponse(created=created)


def license_status(*, clock: Clock, settings: Settings) -> LicenseStatus:
    """Whether the installation's license allows deploying now."""
    expires_at = settings.license_expires_at
    return LicenseStatus(
        valid=expires_at is None or clock.now() < expires_at, expires_at=expires_at
    )
