"""The delivery pump of one worker process, on a thread of its own.

A Celery task would hold its worker process for as long as the fan-out lasts, and every
other task of that process (beat's scheduling tasks among them) would wait behind it. The
pump runs on a thread instead, with an event loop and a runtime of its own: the
``delivery.pump`` task only makes sure it runs, and returns at once. The pump ends once
nothing has been due for :data:`IDLE_SECONDS`; the next ``delivery.pump`` starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from gcc.delivery.outcomes import DeliveryReport
from gcc.delivery.pump import DeliveryPump
from gcc.runtime import Runtime

log = structlog.get_logger(__name__)

IDLE_SECONDS = 5.0
"""How long a pump with nothing due keeps looking before its thread ends (beat's interval)."""

RunOnRuntime = Callable[[Callable[[Runtime], Awaitable[Any]]], Any]


class PumpThread:
    """Start, nudge and stop the delivery pump of this process."""

    def __init__(self, run: RunOnRuntime, close_runtime: Callable[[], None]) -> None:
        """``run(work)`` runs ``work`` on the calling thread's runtime (building it);
        ``close_runtime()`` closes that thread's runtime."""
        self._run = run
        self._close_runtime = close_runtime
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pump: DeliveryPump | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finishing = False
        self._nudges = 0
        self.last_report: DeliveryReport | None = None

    def ensure_running(self) -> bool:
        """Start the pump, or make the running one look for due work now; returns whether
        a pump was started."""
        with self._lock:
            self._nudges += 1
            if self._thread is not None and self._thread.is_alive() and not self._finishing:
                if self._loop is not None and self._pump is not None:
                    self._loop.call_soon_threadsafe(self._pump.nudge)
                return False
            self._finishing = False
            self._pump = self._loop = None
            self._thread = threading.Thread(
                target=self._main, name="delivery-pump", args=(self._nudges,), daemon=True
            )
            self._thread.start()
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the pump (it gives back what it holds) and wait for its thread."""
        with self._lock:
            thread, pump, loop = self._thread, self._pump, self._loop
            self._finishing = True
        if thread is None:
            return
        if pump is not None and loop is not None and not loop.is_closed():
            # the loop may close meanwhile: the thread is ending then
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(pump.stop)
        thread.join(timeout)

    def is_running(self) -> bool:
        """Whether a pump thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _main(self, nudges_at_start: int) -> None:
        try:
            self.last_report = self._run(lambda runtime: self._pump_on(runtime, nudges_at_start))
        except Exception:
            log.exception("webhook.pump.crashed")
        finally:
            with self._lock:
                self._finishing = True
                self._pump = self._loop = None
            try:
                self._close_runtime()
            except Exception:
                log.exception("webhook.pump.close_failed")

    async def _pump_on(self, runtime: Runtime, nudges_at_start: int) -> DeliveryReport:
        seen = nudges_at_start

        def may_finish() -> bool:
            # A nudge that came after the pump last looked keeps it running: the work it
            # announced may have been committed after that look.
            nonlocal seen
            with self._lock:
                if self._nudges != seen:
                    seen = self._nudges
                    return False
                self._finishing = True
                return True

        pump = DeliveryPump(runtime, may_finish=may_finish)
        with self._lock:
            if self._finishing:  # stopped before it began
                return DeliveryReport()
            self._pump, self._loop = pump, asyncio.get_running_loop()
        return await pump.run(idle_seconds=IDLE_SECONDS)
