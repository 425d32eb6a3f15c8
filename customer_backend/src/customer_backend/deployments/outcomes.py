"""What the end of an agent task means for deployments: outcome, history, current version.

The agent tasks domain records the end on the task and hands it here (:func:`record_task_end`
is registered with it); the timelines hand over the tasks they time out
(:func:`record_task_timeout`). The history row, the current and previous artifact flags, the
installation's current version, the report to GCC and the admin email are all written in the
transaction that ends the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AgentTaskType,
    ArtifactType,
    DeploymentStatus,
    DeploymentStatusReport,
    LocalDeploymentStatus,
)
from customer_backend.agent_tasks.completion import TaskEnd
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts import service as artifacts
from customer_backend.config import service as config_service
from customer_backend.deployments import repository
from customer_backend.deployments.models import DeploymentHistory, ScheduledDeployment
from customer_backend.installation import service as installation
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.settings import Settings
from servicekit.runtime import SendTask
from timekeeping import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Ending:
    """A task's end as the deployments domain sees it: which release, which version."""

    end: TaskEnd
    release: ScheduledDeployment | None
    deployment: ScheduledDeployment | None
    version: str | None
    is_rollback: bool

    @property
    def is_success(self) -> bool:
        """Whether the task did what it was asked to."""
        return self.end.outcome is LocalDeploymentStatus.SUCCESS

    @property
    def history_release(self) -> ScheduledDeployment | None:
        """The release a history row names: a deploy's own deployment, a rollback's release."""
        return self.release if self.is_rollback else self.deployment


async def record_task_end(
    session: AsyncSession,
    *,
    end: TaskEnd,
    clock: Clock,
    settings: Settings,
    send_task: SendTask | None,
) -> None:
    """The deployment side of a task's end: outcome, history, current version, report, email."""
    ending = await _ending(session, end)
    running = await installation.current_version(session)
    if ending.version is None:
        log.warning(
            "task.completion.rollback_version_unknown"
            if ending.is_rollback
            else "task.completion.version_unknown",
            task_id=str(end.task.id),
        )
    else:
        if ending.is_success:
            await _make_current(session, end=end, settings=settings, version=ending.version)
        await _add_history(session, ending=ending, version=ending.version)
    if ending.is_rollback:
        reported = ending.version if ending.is_success and ending.version else running
    elif ending.version is None:
        return
    else:
        reported = ending.version if ending.is_success else (end.rolled_back_to or running)
    await _report(
        session, clock=clock, settings=settings, ending=ending, running=reported, send=send_task
    )
    event, context = _email(ending, previous_version=running, settings=settings)
    await notify_admins(
        session,
        clock=clock,
        event=event,
        dedupe_key=f"{event}:{end.task.id}",
        context=context,
        send_task=send_task,
    )


async def _ending(session: AsyncSession, end: TaskEnd) -> Ending:
    """Find the release and version a finished task was about; a deploy's deployment takes
    its outcome."""
    task = end.task
    deployment = (
        await repository.get_deployment(session, task.deployment_id, for_update=True)
        if task.deployment_id
        else None
    )
    if task.type == AgentTaskType.ROLLBACK:
        version = end.reported_version or _text(task.payload.get("targetVersion"))
        revision = task.payload.get("targetRevision")
        if version is None and isinstance(revision, int):
            version = await repository.version_of_helm_revision(session, revision)
        release = deployment
        if release is None and version is not None:
            release = await repository.latest_deployment_of_version(session, version)
        return Ending(end, release, deployment, version, is_rollback=True)
    version = _text(task.payload.get("version")) or (deployment.version if deployment else None)
    if deployment is not None:
        deployment.status = str(end.outcome)
        deployment.completed_at = end.completed_at
        deployment.helm_revision = end.helm_revision
        deployment.error_message = end.error
        deployment.updated_at = end.completed_at
        session.add(deployment)
    release = deployment
    if release is None and version is not None:
        release = await repository.latest_deployment_of_version(session, version)
    return Ending(end, release, deployment, version, is_rollback=False)


def _email(
    ending: Ending, *, previous_version: str | None, settings: Settings
) -> tuple[EmailEventName, dict[str, Any]]:
    """The admin email's event and context for a finished deploy or rollback."""
    end, task = ending.end, ending.end.task
    if ending.is_rollback:
        context: dict[str, Any] = {
            "target_version": _text(task.payload.get("targetVersion")),
            "target_revision": task.payload.get("targetRevision"),
            "completed_at": end.completed_at,
            "task_id": task.id,
        }
        if ending.is_success:
            context.update(version=ending.version or "unknown", helm_revision=end.helm_revision)
            return EmailEventName.ROLLBACK_COMPLETED, context
        context.update(error=end.error)
        return EmailEventName.ROLLBACK_FAILED, context
    context = {
        "version": ending.version,
        "completed_at": end.completed_at,
        "helm_revision": end.helm_revision,
        "deployment_id": task.deployment_id,
        "task_id": task.id,
    }
    if ending.is_success:
        previous = previous_version if previous_version != ending.version else None
        context["previous_version"] = previous
        return EmailEventName.DEPLOYMENT_SUCCEEDED, context
    context.update(
        error=end.error,
        rolled_back_to=end.rolled_back_to,
        deployment_type=str(settings.deployment_type),
        retryable=task.retryable,
    )
    return EmailEventName.DEPLOYMENT_FAILED, context


async def _make_current(
    session: AsyncSession, *, end: TaskEnd, settings: Settings, version: str
) -> None:
    """``version`` runs now: its artifact becomes current, the old current previous, and the
    history rows and the installation's current version follow."""
    await artifacts.set_current_artifact(
        session, artifact_type=_artifact_type(end.task, settings), version=version
    )
    await repository.clear_current_history(session)
    await installation.record_current_version(session, version=version, now=end.completed_at)


async def _add_history(session: AsyncSession, *, ending: Ending, version: str) -> None:
    end, release = ending.end, ending.history_release
    session.add(
        DeploymentHistory(
            id=end.task.id,
            deployment_id=release.id if release else None,
            gcc_release_id=release.gcc_release_id if release else None,
            release_name=release.release_name if release else f"v{version}",
            version=version,
            deployed_at=end.completed_at,
            status=str(end.outcome),
            helm_revision=end.helm_revision,
            config_revision=await _config_revision(session, end.task),
            is_rollback=ending.is_rollback,
            is_current=ending.is_success,
        )
    )


async def _report(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    ending: Ending,
    running: str | None,
    send: SendTask | None,
) -> None:
    """Queue the status report for GCC; without a known release id there is nothing to say."""
    end, release = ending.end, ending.release
    if release is None:
        log.warning("task.completion.report_skipped", task_id=str(end.task.id))
        return
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentStatusReport(
            organization_name=settings.organization_name,
            release_id=release.gcc_release_id,
            status=DeploymentStatus(str(end.outcome)),
            deployed_at=end.completed_at,
            helm_revision=end.helm_revision,
            current_version=installation.version_or_none(running),
            app_version=end.app_version,
            error_message=end.error,
            is_rollback=ending.is_rollback,
        ),
        send_task=send,
    )


async def record_task_timeout(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    task: AgentTask,
    deployment: ScheduledDeployment | None,
    message: str,
) -> None:
    """The history row and the GCC report of a task the timelines timed out."""
    version = task_version(task, deployment)
    if version is None:
        return
    release = deployment or await repository.latest_deployment_of_version(session, version)
    is_rollback = task.type == AgentTaskType.ROLLBACK
    session.add(
        DeploymentHistory(
            id=task.id,
            deployment_id=deployment.id if deployment else None,
            gcc_release_id=release.gcc_release_id if release else None,
            release_name=release.release_name if release else f"v{version}",
            version=version,
            deployed_at=clock.now(),
            status=LocalDeploymentStatus.FAILED,
            config_revision=await _config_revision(session, task),
            is_rollback=is_rollback,
            is_current=False,
        )
    )
    if release is None:
        return
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentStatusReport(
            organization_name=settings.organization_name,
            release_id=release.gcc_release_id,
            status=DeploymentStatus.FAILED,
            deployed_at=clock.now(),
            current_version=await installation.running_version(session),
            error_message=message,
            is_rollback=is_rollback,
        ),
    )


def task_version(task: AgentTask, deployment: ScheduledDeployment | None) -> str | None:
    """The version a task deploys or rolls back to, when it is known."""
    if deployment is not None:
        return deployment.version
    version = task.payload.get("targetVersion") or task.payload.get("version")
    return str(version) if version else None


async def _config_revision(session: AsyncSession, task: AgentTask) -> int | None:
    """The essential configuration revision a task ran with (its values.yaml or .env)."""
    key = _config_bucket_key(task.payload)
    return await config_service.revision_of_bucket_key(session, key) if key else None


def _config_bucket_key(payload: dict[str, Any]) -> str | None:
    release = payload.get("release")
    bundle: dict[str, Any] = release if isinstance(release, dict) else payload
    for name in ("values", "env"):
        ref = bundle.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("bucketPath"), str):
            return str(ref["bucketPath"])
    return None


def _artifact_type(task: AgentTask, settings: Settings) -> ArtifactType:
    bundle = task.payload.get("release") if task.type == AgentTaskType.ROLLBACK else task.payload
    chart = bundle.get("chart") if isinstance(bundle, dict) else None
    if isinstance(chart, dict) and isinstance(chart.get("type"), str):
        return ArtifactType(chart["type"])
    return settings.deployment_type.artifact_type


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None
