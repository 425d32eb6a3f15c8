"""What happens when the agent reports a task's final status (spec 5.6).

The deployment's outcome, a deployment history row, the current and previous artifact flags,
the installation's current version, the status report to GCC (through the outbox) and the admin
email are all written in the transaction that records the status, so either all of them happen
or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AgentTaskStatus,
    DeploymentStatus,
    DeploymentStatusReport,
    InvalidVersionError,
    LocalDeploymentStatus,
    TaskResultStatus,
    TaskStatusUpdate,
    Version,
    parse_version,
)
from customer_backend.config import service as config_service
from customer_backend.deployments.models import DeploymentHistory, ScheduledDeployment
from customer_backend.notifications.service import notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.settings import Settings
from customer_backend.tasks import repository
from customer_backend.tasks.models import AgentTask
from servicekit.runtime import SendTask
from timekeeping import Clock

log = structlog.get_logger(__name__)

ROLLBACK_TASK = "rollback"


@dataclass(frozen=True)
class Completion:
    """The facts of one finished task, shared by the deploy and rollback paths."""

    task: AgentTask
    outcome: LocalDeploymentStatus
    completed_at: datetime
    helm_revision: int | None
    error: str | None
    rolled_back_to: str | None
    reported_version: str | None


def task_outcome(update: TaskStatusUpdate) -> LocalDeploymentStatus:
    """success, failed or rolledBack, from the status and the result the agent sent."""
    result_status = update.result.status if update.result is not None else None
    if result_status is TaskResultStatus.ROLLED_BACK:
        return LocalDeploymentStatus.ROLLED_BACK
    if update.status is AgentTaskStatus.FAILED or result_status is TaskResultStatus.FAILED:
        return LocalDeploymentStatus.FAILED
    return LocalDeploymentStatus.SUCCESS


async def complete_task(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    task: AgentTask,
    update: TaskStatusUpdate,
    send_task: SendTask | None,
) -> LocalDeploymentStatus:
    """Record a task's final status and everything that follows from it; the outcome."""
    now = clock.now()
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
    session.add(task)
    completion = Completion(
        task=task,
        outcome=outcome,
        completed_at=now,
        helm_revision=result.helm_revision if result else None,
        error=error if outcome is not LocalDeploymentStatus.SUCCESS else None,
        rolled_back_to=str(result.rolled_back_to) if result and result.rolled_back_to else None,
        reported_version=str(result.release_version) if result and result.release_version else None,
    )
    if task.type == ROLLBACK_TASK:
        await _finish_rollback(
            session, clock=clock, settings=settings, completion=completion, send_task=send_task
        )
    else:
        await _finish_deploy(
            session, clock=clock, settings=settings, completion=completion, send_task=send_task
        )
    await session.flush()
    log.info(
        "task.completion.recorded",
        task_id=str(task.id),
        type=task.type,
        outcome=str(outcome),
        deployment_id=str(task.deployment_id) if task.deployment_id else None,
    )
    return outcome


async def _finish_deploy(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    completion: Completion,
    send_task: SendTask | None,
) -> None:
    task, outcome, now = completion.task, completion.outcome, completion.completed_at
    deployment = await repository.lock_deployment(session, task.deployment_id)
    version = _text(task.payload.get("version")) or (deployment.version if deployment else None)
    if deployment is not None:
        deployment.status = str(outcome)
        deployment.completed_at = now
        deployment.helm_revision = completion.helm_revision
        deployment.error_message = completion.error
        deployment.updated_at = now
        session.add(deployment)
    previous_version = await repository.current_version(session)
    if version is None:
        log.warning("task.completion.version_unknown", task_id=str(task.id))
        return
    is_success = outcome is LocalDeploymentStatus.SUCCESS
    if is_success:
        await _make_current(session, settings=settings, task=task, version=version, now=now)
    await _add_history(
        session, completion=completion, deployment=deployment, version=version, is_rollback=False
    )
    running = version if is_success else (completion.rolled_back_to or previous_version)
    await _report(
        session,
        clock=clock,
        settings=settings,
        completion=completion,
        release=deployment or await repository.latest_deployment_of_version(session, version),
        current_version=running,
        is_rollback=False,
        send_task=send_task,
    )
    context: dict[str, Any] = {
        "version": version,
        "completed_at": now,
        "helm_revision": completion.helm_revision,
        "deployment_id": task.deployment_id,
        "task_id": task.id,
    }
    if is_success:
        event = "deployment_succeeded"
        context["previous_version"] = previous_version if previous_version != version else None
    else:
        event = "deployment_failed"
        context.update(
            error=completion.error,
            rolled_back_to=completion.rolled_back_to,
            deployment_type=str(settings.deployment_type),
            retryable=task.retryable,
        )
    await notify_admins(
        session,
        clock=clock,
        event=event,
        dedupe_key=f"{event}:{task.id}",
        context=context,
        send_task=send_task,
    )


async def _finish_rollback(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    completion: Completion,
    send_task: SendTask | None,
) -> None:
    task, outcome, now = completion.task, completion.outcome, completion.completed_at
    target_version = _text(task.payload.get("targetVersion"))
    target_revision = task.payload.get("targetRevision")
    version = completion.reported_version or target_version
    if version is None and isinstance(target_revision, int):
        version = await repository.version_of_helm_revision(session, target_revision)
    release = await repository.lock_deployment(session, task.deployment_id)
    if release is None and version is not None:
        release = await repository.latest_deployment_of_version(session, version)
    is_success = outcome is LocalDeploymentStatus.SUCCESS
    running = await repository.current_version(session)
    if version is None:
        log.warning("task.completion.rollback_version_unknown", task_id=str(task.id))
    else:
        if is_success:
            await _make_current(session, settings=settings, task=task, version=version, now=now)
            running = version
        await _add_history(
            session, completion=completion, deployment=release, version=version, is_rollback=True
        )
    await _report(
        session,
        clock=clock,
        settings=settings,
        completion=completion,
        release=release,
        current_version=running,
        is_rollback=True,
        send_task=send_task,
    )
    context: dict[str, Any] = {
        "target_version": target_version,
        "target_revision": target_revision,
        "completed_at": now,
        "task_id": task.id,
    }
    if is_success:
        event = "rollback_completed"
        context.update(version=version or "unknown", helm_revision=completion.helm_revision)
    else:
        event = "rollback_failed"
        context.update(error=completion.error)
    await notify_admins(
        session,
        clock=clock,
        event=event,
        dedupe_key=f"{event}:{task.id}",
        context=context,
        send_task=send_task,
    )


async def _make_current(
    session: AsyncSession, *, settings: Settings, task: AgentTask, version: str, now: datetime
) -> None:
    """``version`` runs now: its artifact becomes current, the old current previous, and the
    history rows and the installation's current version follow."""
    await repository.move_current_artifact(
        session, artifact_type=_artifact_type(task, settings), version=version
    )
    await repository.clear_current_history(session)
    await repository.set_current_version(session, version=version, now=now)


async def _add_history(
    session: AsyncSession,
    *,
    completion: Completion,
    deployment: ScheduledDeployment | None,
    version: str,
    is_rollback: bool,
) -> None:
    config_key = _config_bucket_key(completion.task.payload)
    config_revision = (
        await config_service.revision_of_bucket_key(session, config_key) if config_key else None
    )
    session.add(
        DeploymentHistory(
            deployment_id=deployment.id if deployment else None,
            gcc_release_id=deployment.gcc_release_id if deployment else None,
            release_name=deployment.release_name if deployment else f"v{version}",
            version=version,
            deployed_at=completion.completed_at,
            status=str(completion.outcome),
            helm_revision=completion.helm_revision,
            config_revision=config_revision,
            is_rollback=is_rollback,
            is_current=completion.outcome is LocalDeploymentStatus.SUCCESS,
        )
    )


async def _report(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    completion: Completion,
    release: ScheduledDeployment | None,
    current_version: str | None,
    is_rollback: bool,
    send_task: SendTask | None,
) -> None:
    """Queue the status report for GCC; without a known release id there is nothing to say."""
    if release is None:
        log.warning("task.completion.report_skipped", task_id=str(completion.task.id))
        return
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentStatusReport(
            organization_name=settings.organization_name,
            release_id=release.gcc_release_id,
            status=DeploymentStatus(str(completion.outcome)),
            deployed_at=completion.completed_at,
            helm_revision=completion.helm_revision,
            current_version=_version_or_none(current_version),
            error_message=completion.error,
            is_rollback=is_rollback,
        ),
        send_task=send_task,
    )


def _artifact_type(task: AgentTask, settings: Settings) -> str:
    bundle = task.payload.get("release") if task.type == ROLLBACK_TASK else task.payload
    chart = bundle.get("chart") if isinstance(bundle, dict) else None
    if isinstance(chart, dict) and isinstance(chart.get("type"), str):
        return str(chart["type"])
    return str(settings.deployment_type.artifact_type)


def _config_bucket_key(payload: dict[str, Any]) -> str | None:
    """The essential configuration file a task ran with (values.yaml or .env)."""
    release = payload.get("release")
    bundle: dict[str, Any] = release if isinstance(release, dict) else payload
    for name in ("values", "env"):
        ref = bundle.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("bucketPath"), str):
            return str(ref["bucketPath"])
    return None


def _version_or_none(value: str | None) -> Version | None:
    if value is None:
        return None
    try:
        return parse_version(value)
    except InvalidVersionError:
        return None


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
