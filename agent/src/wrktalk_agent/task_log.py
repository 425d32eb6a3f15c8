"""A task's output, sent to the backend in batches of lines as it is produced."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from uuid import UUID

from contracts import (
    MAX_LOG_BATCH_LINES,
    MAX_LOG_LINE_LENGTH,
    LogBatch,
    LogLine,
    LogStream,
    replace_nul,
)
from logconfig import get_logger
from timekeeping import Clock
from wrktalk_agent.backend import BackendClient
from wrktalk_agent.errors import BackendError

log = get_logger(__name__)

BUFFER_LIMIT_LINES = 20_000
"""Lines kept while the backend cannot take them; the oldest go first past this."""


class TaskLog:
    """Collects lines with :meth:`write` (never blocks) and sends them every ``interval``.

    A batch the backend refuses is kept and sent again with the next one, so a short outage
    loses nothing; past :data:`BUFFER_LIMIT_LINES` the oldest lines are dropped.
    """

    def __init__(
        self, *, backend: BackendClient, task_id: UUID, clock: Clock, interval: float
    ) -> None:
        self._backend = backend
        self._task_id = task_id
        self._clock = clock
        self._interval = interval
        self._pending: deque[LogLine] = deque()
        self._dropped = 0
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def write(self, stream: LogStream, text: str) -> None:
        """Queue one line (without its line break); a NUL in it becomes U+FFFD."""
        if len(self._pending) >= BUFFER_LIMIT_LINES:
            self._pending.popleft()
            self._dropped += 1
        line = replace_nul(text[:MAX_LOG_LINE_LENGTH])
        self._pending.append(LogLine(timestamp=self._clock.now(), stream=stream, line=line))
        if len(self._pending) >= MAX_LOG_BATCH_LINES:
            self._wake.set()

    def note(self, text: str) -> None:
        """Queue a line of the agent's own account of the task."""
        self.write(LogStream.AGENT, text)

    def start(self) -> None:
        """Start sending in the background."""
        self._sender = asyncio.create_task(self._send_periodically())

    async def close(self) -> None:
        """Stop the background sender and send what is left (one last try)."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        await self.flush()

    async def flush(self) -> None:
        """Send every queued line now, in batches; keep them if the backend fails."""
        async with self._lock:
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                self._pending.appendleft(
                    LogLine(
                        timestamp=self._clock.now(),
                        stream=LogStream.AGENT,
                        line=f"[{dropped} earlier lines dropped while the backend was away]",
                    )
                )
            while self._pending:
                batch = [
                    self._pending[index]
                    for index in range(min(len(self._pending), MAX_LOG_BATCH_LINES))
                ]
                try:
                    await self._backend.send_logs(self._task_id, LogBatch(lines=batch))
                except BackendError as exc:
                    log.warning("task.logs.failed", task_id=str(self._task_id), error=str(exc))
                    return
                for _ in batch:
                    self._pending.popleft()

    async def _send_periodically(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            await self.flush()
