"""One task from claim to report.

1. Check the license; expired fails the task ("License expired").
2. Insert the release's new non-essential variables; a failure is logged, not fatal.
3. Download every file into a private directory, verifying SHA256; a mismatch fails the task
   and nothing runs.
4. Maintenance mode on (when configured), and off again whatever happens.
5. Run the executor while a heartbeat keeps the task alive and its output goes to the backend
   in batches as it is produced.
6. Report ``completed`` with the result, or ``failed`` with the stderr tail and whether a retry
   could help. A stop signal lets the running step finish (up to the grace period) and is then
   reported honestly as a retryable failure.
7. Overwrite and remove the downloaded files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from uuid import UUID

from contracts import (
    AgentTaskStatus,
    ConfigInsertRequest,
    DeployTask,
    FileRef,
    NonEssentialEnv,
    ReleaseBundle,
    RollbackTask,
    TaskResult,
    TaskStatusUpdate,
    replace_nul,
)
from logconfig import get_logger
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
from wrktalk_agent.executors import ExecutionContext, Executor, LocalRelease, RollbackTarget
from wrktalk_agent.heartbeat import Heartbeat
from wrktalk_agent.maintenance import maintenance_mode
from wrktalk_agent.settings import Settings
from wrktalk_agent.task_log import TaskLog

log = get_logger(__name__)

Note = Callable[[str], None]

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


async def execute_task(task: DeployTask | RollbackTask, services: TaskServices) -> TaskOutcome:
    """Run ``task`` and report its outcome to the backend (see the module docstring)."""
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
    try:
        kind, update = await _run_and_judge(task, services, task_log)
    finally:
        await heartbeat.stop()
    if update is not None:
        summary = (update.error_message or (update.result.message if update.result else "")) or ""
        task_log.note(f"task {update.status}: {summary.splitlines()[0] if summary else ''}")
    await task_log.close()
    reported = await report_status(services, task.id, update) if update is not None else False
    bound.info("task.finished", outcome=str(kind), reported=reported)
    return TaskOutcome(task.id, kind, update, reported)


async def _run_and_judge(
    task: DeployTask | RollbackTask, services: TaskServices, task_log: TaskLog
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
    task: DeployTask | RollbackTask,
    services: TaskServices,
    runner: CommandRunner,
    task_log: TaskLog,
    workspace: PrivateDirectory,
) -> TaskResult:
    settings = services.settings
    note = task_log.note
    note(f"{task.type} task {task.id} picked up ({settings.deployment_type} agent)")
    _require_artifact_types(task, settings)
    await _check_license(services.backend, note)
    downloads = _Downloads(services.downloader, workspace, services.control, note)
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
    )
    if isinstance(task, RollbackTask):
        target = RollbackTarget(revision=task.payload.target_revision)
        if task.payload.release is not None:
            target = RollbackTarget(
                release=await downloads.release(task.payload.release, "release")
            )
        async with maintenance:
            return await services.executor.rollback(target, context=context)
    payload = task.payload
    await _insert_variables(services.backend, payload.new_non_essential_envs, note)
    release = await downloads.release(payload, "release")
    previous = None
    if payload.previous is not None:
        context.previous_version = payload.previous.version
        if services.executor.needs_previous_files():
            previous = await downloads.release(payload.previous, "previous")
    async with maintenance:
        return await services.executor.deploy(release, previous=previous, context=context)


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


class _Downloads:
    """Downloads a release's files into the workspace, checking for a stop between files."""

    def __init__(
        self,
        downloader: Downloader,
        workspace: PrivateDirectory,
        control: StopControl,
        note: Note,
    ) -> None:
        self._downloader = downloader
        self._workspace = workspace
        self._control = control
        self._note = note

    async def release(self, bundle: ReleaseBundle, role: str) -> LocalRelease:
        chart = await self._file(bundle.chart, role)
        values = await self._file(bundle.values, role) if bundle.values else None
        env = await self._file(bundle.env, role) if bundle.env else None
        return LocalRelease(
            version=bundle.version,
            chart=chart,
            image_tags=dict(bundle.image_tags),
            values=values,
            env=env,
        )

    async def _file(self, reference: FileRef, role: str) -> Path:
        if self._control.abandoned.is_set():
            raise TaskAbandoned("the backend gave the task up")
        if self._control.stopping.is_set():
            raise TaskInterrupted(f"downloading {reference.bucket_path}", started=False)
        destination = self._workspace.file_path(role, reference.bucket_path)
        path = await self._downloader.download(reference, destination)
        self._note(f"downloaded {reference.bucket_path}, SHA256 verified")
        return path
