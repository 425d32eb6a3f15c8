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
        withdrawn_at=deployment.withdrawn_at,
        rollback_version=deployment.rollback_version,
        created_at=deployment.received_at,
    )


def history_view(
    row: DeploymentHistory, *, is_task_id: bool, latest: ScheduledDeployment | None
) -> DeploymentHistoryView | None:
    """A history entry, openable by its ``deploymentId``; None (logged) when it names no GCC
    release or has a foreign status.

    ``is_task_id``: the row's id is its task's (rows written since ids were listed);
    ``latest``: the latest received deployment of its version, for older rows.
    """
    release_id = row.gcc_release_id or (latest.gcc_release_id if latest else None)
    # a rollback opens as its own task: the deployment it names is the release it restored
    deployment_id = row.id if is_task_id and row.is_rollback else row.deployment_id
    if deployment_id is None and is_task_id:
        deployment_id = row.id
    if deployment_id is None and latest is not None:
        deployment_id = latest.id
    try:
        status = LocalDeploymentStatus(row.status)
    except ValueError:
        status = None
    if release_id is None or status is None or deployment_id is None:
        log.warning("deployment.history.unlisted", history_id=str(row.id), status=row.status)
        return None
    return DeploymentHistoryView(
        id=row.id,
        deployment_id=deployment_id,
        task_id=row.id if is_task_id else None,
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
        result=result,
        error_message=tail(task.error_message),
        created_by=task.created_by,
        created_at=task.created_at,
        deployment_id=task.deployment_id,
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
