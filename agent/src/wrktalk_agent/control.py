"""How a running task learns that it must stop: a signal to the agent, or the backend giving up."""

from __future__ import annotations

import asyncio

from logconfig import get_logger

log = get_logger(__name__)


class StopControl:
    """Two events every step of a task watches.

    ``stopping``: SIGTERM or SIGINT arrived. The running step may finish within
    ``grace_period`` seconds; no further step starts. ``abandoned``: the backend no longer counts
    the task as running, so the running command is killed at once.
    """

    def __init__(self, *, grace_period: float) -> None:
        self.grace_period = grace_period
        self.stopping = asyncio.Event()
        self.abandoned = asyncio.Event()
        self.abandon_reason = ""

    def request_stop(self) -> None:
        """Ask the agent to stop after the running step (the signal handler)."""
        if not self.stopping.is_set():
            log.info("agent.stop.requested")
        self.stopping.set()

    def abandon(self, reason: str) -> None:
        """Stop the running task at once: the backend has given it up."""
        if not self.abandoned.is_set():
            self.abandon_reason = reason
            log.warning("task.abandoned", reason=reason)
        self.abandoned.set()

    def reset_task(self) -> None:
        """Forget a previous task's abandonment before the next task starts."""
        self.abandoned = asyncio.Event()
        self.abandon_reason = ""
