"""Run async service code from Celery tasks.

Each worker process (or thread, for an in-process test worker) builds its runtime once, on
first use, on an event loop of its own, and keeps both for its life: database engines and HTTP
pools are not rebuilt per task.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, Generic, Protocol, TypeVar

from timekeeping import Clock

T = TypeVar("T")
S = TypeVar("S")


class HasClock(Protocol):
    """A runtime whose clock tests may replace."""

    clock: Clock


R = TypeVar("R", bound=HasClock)

RuntimeOpener = Callable[[Any, Clock | None], AbstractAsyncContextManager[R]]


class _ThreadState(Generic[R]):
    def __init__(self, opening: AbstractAsyncContextManager[R]) -> None:
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.runtime: R = self.loop.run_until_complete(self.stack.enter_async_context(opening))

    def close(self) -> None:
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.close()


class WorkerRuntime(Generic[S, R]):
    """The runtime Celery tasks of one tier run on: one per thread, opened lazily."""

    def __init__(
        self,
        opener: Callable[[S, Clock | None], AbstractAsyncContextManager[R]],
        default_settings: Callable[[], S],
    ) -> None:
        """``opener(settings, clock)`` yields a runtime; ``default_settings`` reads the env."""
        self._opener = opener
        self._default_settings = default_settings
        self._settings: S | None = None
        self._clock: Clock | None = None
        self._local = threading.local()

    def configure(self, settings: S) -> None:
        """Use ``settings`` instead of the environment's (the worker command and tests)."""
        self._settings = settings

    def use_clock(self, clock: Clock | None) -> None:
        """Make tasks read time from ``clock`` (tests move it)."""
        self._clock = clock

    def run(self, work: Callable[[R], Awaitable[T]]) -> T:
        """Run ``work`` with this thread's runtime, building it on first use."""
        state: _ThreadState[R] | None = getattr(self._local, "state", None)
        if state is None:
            settings = self._settings if self._settings is not None else self._default_settings()
            state = _ThreadState(self._opener(settings, self._clock))
            self._local.state = state
        if self._clock is not None:
            state.runtime.clock = self._clock
        return state.loop.run_until_complete(work(state.runtime))

    def close(self) -> None:
        """Close this thread's runtime, if it has one."""
        state: _ThreadState[R] | None = getattr(self._local, "state", None)
        if state is not None:
            state.close()
            self._local.state = None


def celery_sender(celery: Any, broker_url: str) -> Callable[..., None]:
    """A ``send_task(name, *args, **kwargs)`` that publishes to ``broker_url``.

    The API processes only send tasks; they never run ``configure_celery``, so the broker is
    set here, or Celery would publish to its default broker and the task would be lost.
    """
    celery.conf.broker_url = broker_url

    def send_task(name: str, *args: Any, **kwargs: Any) -> None:
        celery.send_task(name, args=args, kwargs=kwargs)

    return send_task
