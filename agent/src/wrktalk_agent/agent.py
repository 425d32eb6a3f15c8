"""The agent: one loop primitive that polls with jitter and backoff, claims, runs and reports.

The backend is the authority and the agent holds no state: every task it runs was claimed
atomically by its poll, and everything it learns is reported back. Between tasks a stop signal
ends the loop at once; during a task the task decides (see :mod:`wrktalk_agent.execution`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from enum import IntEnum

from contracts import AgentTaskStatus, TaskStatusUpdate, replace_nul
from logconfig import get_logger
from signing import TrustedKeys
from telemetry import trace_fields
from timekeeping import Clock, SystemClock, backoff_delay
from wrktalk_agent import metrics
from wrktalk_agent.backend import BackendClient, MalformedTask
from wrktalk_agent.control import StopControl
from wrktalk_agent.downloads import Downloader
from wrktalk_agent.errors import BackendError, ConfigurationError
from wrktalk_agent.execution import (
    TaskOutcome,
    TaskOutcomeKind,
    TaskServices,
    execute_task,
    report_status,
)
from wrktalk_agent.executors import Executor, build_executor
from wrktalk_agent.settings import Settings

log = get_logger(__name__)


class OnceExit(IntEnum):
    """Exit codes of ``wrktalk-agent once``."""

    COMPLETED = 0
    """A task ran and was completed."""
    FAILED = 1
    """A task ran and failed (or the backend gave it up while it ran)."""
    ERROR = 2
    """The configuration is unusable or the backend could not be reached."""
    NO_TASK = 3
    """The backend had nothing to do."""
    INTERRUPTED = 4
    """A stop signal interrupted the task; it was reported failed and retryable."""


def require_usable(settings: Settings) -> None:
    """Raise :class:`ConfigurationError` for settings the agent cannot start with."""
    if not settings.agent_secret.get_secret_value():
        raise ConfigurationError("WRKTALK_AGENT_AGENT_SECRET is not set")
    if not settings.manifest_trusted_keys and not settings.allow_unsigned_releases:
        raise ConfigurationError(
            "WRKTALK_AGENT_MANIFEST_TRUSTED_KEYS is not set: the agent would refuse every "
            "release (set WRKTALK_AGENT_ALLOW_UNSIGNED_RELEASES=true only for releases "
            "published before manifests were signed)"
        )


class Agent:
    """Polls the backend and runs what it claims, one task at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        backend: BackendClient | None = None,
        executor: Executor | None = None,
        clock: Clock | None = None,
        control: StopControl | None = None,
        rng: random.Random | None = None,
    ) -> None:
        require_usable(settings)
        self.settings = settings
        self.control = control or StopControl(grace_period=settings.shutdown_grace_period)
        self.backend = backend or BackendClient(
            base_url=settings.backend_url,
            agent_secret=settings.agent_secret.get_secret_value(),
            timeout=settings.backend_timeout,
        )
        self._services = TaskServices(
            settings=settings,
            backend=self.backend,
            downloader=Downloader(timeout=settings.backend_timeout),
            executor=executor or build_executor(settings),
            control=self.control,
            clock=clock or SystemClock(),
            trusted_keys=TrustedKeys.from_texts(settings.manifest_trusted_keys),
        )
        self._random = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self.consecutive_failures = 0
        self.last_outcome: TaskOutcome | None = None
        """What became of the last task this agent ran."""

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self._services.downloader.aclose()
        await self.backend.aclose()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT ask the agent to stop (see the module docstring)."""
        loop = asyncio.get_running_loop()
        for sent in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sent, self.control.request_stop)

    async def run(self) -> None:
        """Poll until asked to stop; errors back off exponentially, never end the loop."""
        log.info(
            "agent.started",
            deployment_type=str(self.settings.deployment_type),
            backend_url=self.settings.backend_url,
        )
        metrics.start_exposition(self.settings)
        while not self.control.stopping.is_set():
            try:
                outcome = await self.poll_and_execute()
            except BackendError as exc:
                self.consecutive_failures += 1
                metrics.POLL_FAILURES.inc()
                log.warning("agent.poll.failed", error=str(exc), failures=self.consecutive_failures)
            except Exception:
                self.consecutive_failures += 1
                metrics.POLL_FAILURES.inc()
                log.exception("agent.poll.crashed", failures=self.consecutive_failures)
            else:
                if self.consecutive_failures:
                    log.info("agent.poll.recovered", after_failures=self.consecutive_failures)
                self.consecutive_failures = 0
                if outcome is not None:
                    metrics.write_textfile(self.settings)
                    continue  # there may be more work queued: poll again at once
            metrics.write_textfile(self.settings)
            await self._sleep(self.next_delay())
        log.info("agent.stopped")

    async def run_once(self) -> OnceExit:
        """One poll and, when there is a task, its execution (the textfile written after)."""
        try:
            outcome = await self.poll_and_execute()
        except BackendError as exc:
            metrics.POLL_FAILURES.inc()
            log.error("agent.poll.failed", error=str(exc))
            return OnceExit.ERROR
        finally:
            metrics.write_textfile(self.settings)
        if outcome is None:
            return OnceExit.NO_TASK
        return {
            TaskOutcomeKind.COMPLETED: OnceExit.COMPLETED,
            TaskOutcomeKind.FAILED: OnceExit.FAILED,
            TaskOutcomeKind.ABANDONED: OnceExit.FAILED,
            TaskOutcomeKind.INTERRUPTED: OnceExit.INTERRUPTED,
        }[outcome.kind]

    async def poll_and_execute(self) -> TaskOutcome | None:
        """Claim a task and run it; None when there was none."""
        outcome = await self._poll_and_execute()
        if outcome is not None:
            self.last_outcome = outcome
        return outcome

    async def _poll_and_execute(self) -> TaskOutcome | None:
        try:
            task = await self.backend.claim_task()
        except MalformedTask as exc:
            log.error("agent.task.malformed", task_id=str(exc.task_id), error=str(exc))
            if exc.task_id is None:
                raise BackendError(str(exc)) from exc
            update = self._failure(f"the agent cannot read this task: {exc}", retryable=False)
            reported = await report_status(self._services, exc.task_id, update)
            return TaskOutcome(exc.task_id, TaskOutcomeKind.FAILED, update, reported)
        if task is None:
            log.debug("agent.poll.empty")
            return None
        log.info(
            "agent.task.claimed",
            task_id=str(task.id),
            task_type=task.type,
            deployment_id=str(task.deployment_id) if task.deployment_id else None,
            **trace_fields(task.traceparent),
        )
        if self.control.stopping.is_set():
            # Claimed by a poll already under way when the signal came: hand it back honestly.
            update = self._failure(
                "agent stopped before starting the task; the task can run again",
                retryable=True,
            )
            reported = await report_status(self._services, task.id, update)
            return TaskOutcome(task.id, TaskOutcomeKind.INTERRUPTED, update, reported)
        return await execute_task(task, self._services)

    def next_delay(self) -> float:
        """Seconds until the next poll: the interval with jitter, or after failures an
        exponential backoff with jitter capped at ``backoff_max``."""
        settings = self.settings
        if self.consecutive_failures == 0:
            spread = settings.poll_interval * settings.poll_jitter
            return max(0.0, settings.poll_interval + self._random.uniform(-spread, spread))
        return backoff_delay(
            self.consecutive_failures,
            base=settings.poll_interval,
            cap=settings.backoff_max,
            rng=self._random,
        )

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.control.stopping.wait(), timeout=seconds)

    def _failure(self, message: str, *, retryable: bool) -> TaskStatusUpdate:
        now = self._services.clock.now()
        return TaskStatusUpdate(
            status=AgentTaskStatus.FAILED,
            completed_at=now,
            error_message=replace_nul(message),
            retryable=retryable,
        )
