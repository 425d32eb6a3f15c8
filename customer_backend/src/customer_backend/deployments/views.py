"""Deployment rows as the contract models the Control Tower receives."""

from __future__ import annotations

import uuid

import structlog
from pydantic import ValidationError

from contracts import (
    MAX_ERROR_MESSAGE_LENGTH,
    AgentTaskStatus,
    AgentTaskType,
    AgentTaskView,
    DeploymentHistoryView,
    DeploymentLogLineView,
    LocalDeploymentStatus,
    LogStream,
    ScheduledDeploymentView,
    TaskResult,
)
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from customer_backend.deployments.bundles import release_facts
from customer_backend.deployments.models import DeploymentHistory, ScheduledDeployment

log = structlog.get_logger(__name__)


def tail(message: str | None) -> str | None:
    """The end of an error message, cut to what the contracts accept."""
    if message is None or len(message) <= MAX_ERROR_MESSAGE_LENGTH:
        return message
    return message[-MAX_ERROR_MESSAGE_LENGTH:]


def deployment_view(
    deployment: ScheduledDeployment, *, task_id: uuid.UUID | None
) -> ScheduledDeploymentView:
    """A received release and where its deployment stands."""
    facts = release_facts(deployment)
    return ScheduledDeploymentView(
        id=deployment.id,
        gcc_release_id=deployment.gcc_release_id,
        release_name=deployment.release_name,
        version=deployment.version,
        status=LocalDeploymentStatus(deployment.status),
        is_forced=deployment.is_forced,
        force_deadline=deployment.force_deadline,
        is_migration_required=facts.is_migration_required,
        estimated_downtime=facts.estimated_downtime,
        release_notes=facts.release_notes,
        image_tags=facts.image_tags,
        new_non_essential_envs=facts.new_non_essential_envs,
        is_chart_downloaded=deployment.chart_downloaded,
        scheduled_for=deployment.scheduled_for,
        scheduled_by=deployment.scheduled_by,
        started_at=deployment.started_at,
        completed_at=deployment.completed_at,
        helm_revision=deployment.helm_revision,
        error_message=tail(deployment.error_message),
        task_id=task_id,
        created_at=deployment.received_at,
    )


def history_view(
    row: DeploymentHistory, *, release_ids: dict[str, uuid.UUID]
) -> DeploymentHistoryView | None:
    """A history entry; None (logged) when it names no GCC release or has a foreign status."""
    release_id = row.gcc_release_id or release_ids.get(row.version)
    try:
        status = LocalDeploymentStatus(row.status)
    except ValueError:
        status = None
    if release_id is None or status is None:
        log.warning("deployment.history.unlisted", history_id=str(row.id), status=row.status)
        return None
    return DeploymentHistoryView(
        id=row.id,
        gcc_release_id=release_id,
        release_name=row.release_name,
        version=row.version,
        deployed_at=row.deployed_at,
        status=status,
        helm_revision=row.helm_revision,
        is_rollback=row.is_rollback,
        is_current=row.is_current,
    )


def task_view(task: AgentTask) -> AgentTaskView:
    """An agent task as admins see it."""
    result: TaskResult | None = None
    if task.result:
        try:
            result = TaskResult.model_validate(task.result)
        except ValidationError:
            log.warning("deployment.task.result_unreadable", task_id=str(task.id))
    return AgentTaskView(
        id=task.id,
        type=AgentTaskType(task.type),
        status=AgentTaskStatus(task.status),
        execute_after=task.execute_after,
        picked_up_at=task.picked_up_at,
        last_heartbeat_at=task.last_heartbeat_at,
        completed_at=task.completed_at,
        attempts=task.attempts,
        max_attempts=max(task.max_attempts, 1),
        result=result,
        error_message=tail(task.error_message),
        retryable=task.retryable,
    )


def log_line_view(line: TaskLogLine) -> DeploymentLogLineView:
    """One streamed log line."""
    assert line.id is not None
    try:
        stream = LogStream(line.stream)
    except ValueError:
        stream = LogStream.AGENT
    return DeploymentLogLineView(
        id=line.id, task_id=line.task_id, timestamp=line.logged_at, stream=stream, line=line.line
    )
