"""The task heartbeat: keeps the backend's task timeout from firing while a task runs."""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from contracts import AgentTaskStatus
from logconfig import get_logger
from wrktalk_agent.backend import BackendClient
from wrktalk_agent.control import StopControl
from wrktalk_agent.errors import BackendError, BackendRejected
from wrktalk_agent.metrics import HEARTBEAT_FAILURES

log = get_logger(__name__)

GONE_STATUS_CODES = frozenset({404, 409, 410})
"""Answers meaning the task is not (or no longer) this agent's to run."""


class Heartbeat:
    """Sends ``POST …/heartbeat`` every ``interval`` seconds in the background.

    When the backend answers that the task is no longer ``inProgress`` (it timed out or was
    cancelled), the task is abandoned through ``control``: its running command is killed.
    A heartbeat that fails for other reasons is logged and tried again next interval.
    """

    def __init__(
        self, *, backend: BackendClient, task_id: UUID, interval: float, control: StopControl
    ) -> None:
        self._backend = backend
        self._task_id = task_id
        self._interval = interval
        self._control = control
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def start(self) -> None:
        """Start beating in the background."""
        self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        """Stop beating."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                ack = await self._backend.heartbeat(self._task_id)
            except BackendRejected as exc:
                if exc.status_code in GONE_STATUS_CODES:
                    self._control.abandon(f"heartbeat refused: {exc}")
                    return
                HEARTBEAT_FAILURES.inc()
                log.warning("task.heartbeat.failed", task_id=str(self._task_id), error=str(exc))
                continue
            except BackendError as exc:
                HEARTBEAT_FAILURES.inc()
                log.warning("task.heartbeat.failed", task_id=str(self._task_id), error=str(exc))
                continue
            self.sent += 1
            log.debug("task.heartbeat.sent", task_id=str(self._task_id))
            if ack.task_status is not None and ack.task_status is not AgentTaskStatus.IN_PROGRESS:
                self._control.abandon(f"the backend reports the task {ack.task_status}")
                return
