"""One task from claim to report.

1. Check the license; expired fails the task ("License expired").
2. Insert the release's new non-essential variables; a failure is logged, not fatal.
3. Verify each release's signed manifest with the agent's own trusted keys (signature, expiry,
   deployment type, no older version unless a rollback to one run before) and download every
   file into a private directory, verifying the signed SHA256 and size; a refusal or a mismatch
   fails the task for good and nothing runs.
4. Maintenance mode on (when configured), and off again whatever happens, unless an admin holds
   it on. A ``maintenance`` task only switches it, as the admin asked, and skips every other
   step.
5. Run the executor while a heartbeat keeps the task alive and its output goes to the backend
   in batches as it is produced.
6. Report ``completed`` with the result, or ``failed`` with the stderr tail and whether a retry
   could help. A stop signal lets the running step finish (up to the grace period) and is then
   reported honestly as a retryable failure.
7. Overwrite and remove the downloaded files.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from contracts import (
    AgentTaskStatus,
    ConfigInsertRequest,
    DeployTask,
    MaintenanceTask,
    NonEssentialEnv,
    RollbackTask,
    TaskResult,
    TaskResultStatus,
    TaskStatusUpdate,
    replace_nul,
)
from logconfig import get_logger, log_context
from signing import TrustedKeys
from telemetry import StatusCode, span
from timekeeping import Clock, backoff_delay
from wrktalk_agent.backend import BackendClient
from wrktalk_agent.commands import CommandRunner
from wrktalk_agent.control import StopControl
from wrktalk_agent.downloads import Downloader, PrivateDirectory
from wrktalk_agent.errors import (
    BackendError,
    BackendRejected,
    TaskAbandoned,
    TaskFailure,
    TaskInterrupted,
)
from wrktalk_agent.executors import ExecutionContext, Executor, RollbackTarget
from wrktalk_agent.heartbeat import Heartbeat
from wrktalk_agent.maintenance import maintenance_mode, switch_for_admin
from wrktalk_agent.manifests import ManifestCheck, VersionHistory, check_task, record_running
from wrktalk_agent.metrics import TASK_DURATION
from wrktalk_agent.release_files import ReleaseDownloads
from wrktalk_agent.settings import Settings
from wrktalk_agent.task_log import TaskLog

log = get_logger(__name__)

Note = Callable[[str], None]
ClaimedTask = DeployTask | RollbackTask | MaintenanceTask

STOPPING_REPORT_DELAY_CAP = 2.0
"""Longest wait between two report attempts while the agent is stopping."""


class TaskOutcomeKind(StrEnum):
    """How a task ended, from the agent's side."""

    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """Stopped by SIGTERM or SIGINT; reported failed and retryable."""
    ABANDONED = "abandoned"
    """The backend gave the task up while it ran; nothing more was reported."""


@dataclass(frozen=True)
class TaskOutcome:
    """What became of one task."""

    task_id: UUID
    kind: TaskOutcomeKind
    update: TaskStatusUpdate | None
    reported: bool


@dataclass
class TaskServices:
    """What running a task needs, built once per agent."""

    settings: Settings
    backend: BackendClient
    downloader: Downloader
    executor: Executor
    control: StopControl
    clock: Clock
    trusted_keys: TrustedKeys
    """The keys the agent was installed with; release manifests must be signed by one."""


async def execute_task(task: ClaimedTask, services: TaskServices) -> TaskOutcome:
    """Run ``task`` and report its outcome to the backend (see the module docstring).

    The run is the ``agent.task`` span, under the ``traceparent`` the task came with (its
    release's trace); its heartbeats, log batches and status reports carry the span on.
    """
    with (
        span(
            "agent.task",
            parent=task.traceparent,
            attributes={"wrktalk.task_id": str(task.id), "wrktalk.task_type": task.type},
        ) as current,
        log_context(task_id=task.id, task_type=task.type, deployment_id=task.deployment_id),
    ):
        outcome = await _execute_task(task, services)
        current.set_attribute("wrktalk.task_outcome", str(outcome.kind))
        if outcome.kind is not TaskOutcomeKind.COMPLETED:
            current.set_status(StatusCode.ERROR, str(outcome.kind))
        return outcome


async def _execute_task(task: ClaimedTask, services: TaskServices) -> TaskOutcome:
    settings, control, clock = services.settings, services.control, services.clock
    control.reset_task()
    bound = log.bind(task_id=str(task.id), task_type=task.type)
    bound.info("task.started")
    task_log = TaskLog(
        backend=services.backend,
        task_id=task.id,
        clock=clock,
        interval=settings.log_batch_interval,
    )
    heartbeat = Heartbeat(
        backend=services.backend,
        task_id=task.id,
        interval=settings.heartbeat_interval,
        control=control,
    )
    task_log.start()
    heartbeat.start()
    started = time.monotonic()
    try:
        kind, update = await _run_and_judge(task, services, task_log)
    finally:
        await heartbeat.stop()
    TASK_DURATION.labels(str(settings.deployment_type), str(kind)).observe(
        time.monotonic() - started
    )
    if update is not None:
        summary = (update.error_message or (update.result.message if update.result else "")) or ""
        task_log.note(f"task {update.status}: {summary.splitlines()[0] if summary else ''}")
    await task_log.close()
    reported = await report_status(services, task.id, update) if update is not None else False
    bound.info("task.finished", outcome=str(kind), reported=reported)
    return TaskOutcome(task.id, kind, update, reported)


async def _run_and_judge(
    task: ClaimedTask, services: TaskServices, task_log: TaskLog
) -> tuple[TaskOutcomeKind, TaskStatusUpdate | None]:
    """Run the steps and say honestly how they ended; the downloads are wiped either way."""
    clock = services.clock
    picked_up_at = clock.now()
    runner = CommandRunner(
        on_line=task_log.write,
        control=services.control,
        secrets=[services.settings.agent_secret.get_secret_value()],
    )
    workspace: PrivateDirectory | None = None
    try:
        workspace = PrivateDirectory(services.settings.temp_dir)
        result = await _run_steps(task, services, runner, task_log, workspace)
    except TaskInterrupted as stopped:
        message = f"{stopped.account()}; the task can run again"
        return TaskOutcomeKind.INTERRUPTED, _failed(message, True, picked_up_at, clock)
    except TaskAbandoned as abandoned:
        task_log.note(f"stopped: {services.control.abandon_reason or abandoned}")
        return TaskOutcomeKind.ABANDONED, None
    except TaskFailure as failure:
        update = _failed(
            failure.report_text(), failure.retryable, picked_up_at, clock, result=failure.result
        )
        return TaskOutcomeKind.FAILED, update
    except Exception as exc:  # an agent bug, a full disk: the task still ends honestly
        log.exception("task.crashed", task_id=str(task.id))
        message = f"agent error: {type(exc).__name__}: {exc}"
        return TaskOutcomeKind.FAILED, _failed(message, True, picked_up_at, clock)
    finally:
        if workspace is not None:
            workspace.wipe()
    completed = TaskStatusUpdate(
        status=AgentTaskStatus.COMPLETED,
        picked_up_at=picked_up_at,
        completed_at=clock.now(),
        result=result,
    )
    return TaskOutcomeKind.COMPLETED, completed


async def report_status(services: TaskServices, task_id: UUID, update: TaskStatusUpdate) -> bool:
    """Send ``update``, retrying with backoff while the backend is unavailable."""
    settings = services.settings
    for attempt in range(settings.report_attempts):
        try:
            await services.backend.report_status(task_id, update)
            return True
        except BackendRejected as exc:
            log.error("task.report.rejected", task_id=str(task_id), error=str(exc))
            return False
        except BackendError as exc:
            stopping = services.control.stopping.is_set()
            delay = backoff_delay(
                attempt,
                base=settings.poll_interval,
                cap=STOPPING_REPORT_DELAY_CAP if stopping else settings.backoff_max,
            )
            log.warning(
                "task.report.failed",
                task_id=str(task_id),
                attempt=attempt + 1,
                retry_in=round(delay, 2),
                error=str(exc),
            )
            if attempt + 1 < settings.report_attempts:
                await asyncio.sleep(delay)
    log.error("task.report.abandoned", task_id=str(task_id), status=str(update.status))
    return False


def _failed(
    message: str,
    retryable: bool,
    picked_up_at: datetime,
    clock: Clock,
    *,
    result: TaskResult | None = None,
) -> TaskStatusUpdate:
    return TaskStatusUpdate(
        status=AgentTaskStatus.FAILED,
        picked_up_at=picked_up_at,
        completed_at=clock.now(),
        error_message=replace_nul(message) or "failed",
        retryable=retryable,
        result=result,
    )


async def _run_steps(
    task: ClaimedTask,
    services: TaskServices,
    runner: CommandRunner,
    task_log: TaskLog,
    workspace: PrivateDirectory,
) -> TaskResult:
    settings = services.settings
    note = task_log.note
    note(f"{task.type} task {task.id} picked up ({settings.deployment_type} agent)")
    if isinstance(task, MaintenanceTask):
        return await _switch_maintenance(task, services, runner, note)
    _require_artifact_types(task, settings)
    history = VersionHistory(settings.state_dir)
    bundles = check_task(
        task,
        ManifestCheck(settings, services.trusted_keys, history, services.clock.now()),
    )
    note("release manifest verified")
    await _check_license(services.backend, note)
    downloads = ReleaseDownloads(services.downloader, workspace, services.control, note)
    context = ExecutionContext(
        task_id=task.id, runner=runner, scratch=workspace.subdirectory("scratch"), note=note
    )
    maintenance = maintenance_mode(
        flag_file=settings.maintenance_flag_file,
        command=settings.maintenance_command,
        runner=runner,
        time_limit=settings.command_timeout,
        task_id=task.id,
        clock=services.clock,
        note=note,
        held=task.maintenance_held,
    )
    if isinstance(task, RollbackTask):
        target = RollbackTarget(
            revision=task.payload.target_revision, to_previous=task.payload.to_previous
        )
        if bundles.release is not None:
            target = RollbackTarget(
                release=await downloads.release(bundles.release, "release"),
                to_previous=task.payload.to_previous,
            )
        async with maintenance:
            result = await services.executor.rollback(target, context=context)
        return record_running(history, result, bundles.release)
    await _insert_variables(services.backend, task.payload.new_non_essential_envs, note)
    assert bundles.release is not None  # a deploy task always carries its release
    release = await downloads.release(bundles.release, "release")
    previous = None
    if bundles.previous is not None:
        context.previous_version = bundles.previous.version
        if services.executor.needs_previous_files():
            previous = await downloads.release(bundles.previous, "previous")
    async with maintenance:
        result = await services.executor.deploy(release, previous=previous, context=context)
    return record_running(history, result, bundles.release)


async def _switch_maintenance(
    task: MaintenanceTask, services: TaskServices, runner: CommandRunner, note: Note
) -> TaskResult:
    """An admin's switch: the same hook a deployment uses, and nothing else."""
    settings = services.settings
    await switch_for_admin(
        task.payload.enabled,
        flag_file=settings.maintenance_flag_file,
        command=settings.maintenance_command,
        runner=runner,
        time_limit=settings.command_timeout,
        task_id=task.id,
        clock=services.clock,
        note=note,
    )
    state = "on" if task.payload.enabled else "off"
    return TaskResult(status=TaskResultStatus.SUCCESS, message=f"maintenance mode {state}")


def _require_artifact_types(task: DeployTask | RollbackTask, settings: Settings) -> None:
    """Refuse a task made for another kind of agent before anything happens."""
    if isinstance(task, DeployTask):
        bundles = [task.payload, task.payload.previous]
    else:
        bundles = [task.payload.release]
    expected = settings.deployment_type.artifact_type
    for bundle in bundles:
        if bundle is not None and bundle.chart.type != expected:
            raise TaskFailure(
                f"the task carries a {bundle.chart.type} artifact but this agent deploys "
                f"{settings.deployment_type} ({expected})",
                retryable=False,
            )


async def _check_license(backend: BackendClient, note: Note) -> None:
    try:
        status = await backend.license_status()
    except BackendError as exc:
        raise TaskFailure(f"could not check the license: {exc}", retryable=True) from exc
    if not status.valid:
        expired = f" (expired {status.expires_at.isoformat()})" if status.expires_at else ""
        raise TaskFailure(f"License expired{expired}", retryable=False)
    note("license valid")


async def _insert_variables(
    backend: BackendClient, variables: list[NonEssentialEnv], note: Note
) -> None:
    for variable in variables:
        try:
            answer = await backend.insert_config(
                ConfigInsertRequest(key=variable.key, value=variable.value)
            )
        except BackendError as exc:
            # Spec 8.4, error 4.4: never blocks the deployment; an admin can add it later.
            log.warning("config.insert.failed", key=variable.key, error=str(exc))
            note(f"could not add the variable {variable.key}: {exc}")
            continue
        state = "added" if answer.created else "already set, kept"
        note(f"non-essential variable {variable.key} {state}")
