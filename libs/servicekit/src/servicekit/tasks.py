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
from typing import Any, Final, Generic, Protocol, TypeVar

import structlog
import uvloop

from timekeeping import Clock

log = structlog.get_logger(__name__)

PUBLISH_RETRY_POLICY: Final = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}
"""How a request retries publishing a task to the broker: at most about 0.3 s in all.

Celery's default (3 retries, up to 1 s apart) held the caller for 1.3 s when Redis was down.
Every task a request sends nudges work that beat also finds in the database, so waiting
longer buys nothing."""

BROKER_CONNECT_TIMEOUT_SECONDS: Final = 2.0
"""How long opening a connection to the broker may take (Redis's ``socket_connect_timeout``):
without it, a broker host that does not answer holds the caller for the system's TCP timeout."""

T = TypeVar("T")
S = TypeVar("S")


class HasClock(Protocol):
    """A runtime whose clock tests may replace."""

    clock: Clock


R = TypeVar("R", bound=HasClock)

RuntimeOpener = Callable[[Any, Clock | None], AbstractAsyncContextManager[R]]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A worker thread's event loop: uvloop's, which the API servers run on too (uvicorn's
    default). The delivery pump spends about a fifth of its CPU in the event loop and its
    socket transports, and uvloop's are compiled."""
    return uvloop.new_event_loop()


class _ThreadState(Generic[R]):
    def __init__(self, opening: AbstractAsyncContextManager[R]) -> None:
        self.loop = new_event_loop()
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


class TaskNotQueued(Exception):
    """The broker did not take a task (it is down or unreachable); already logged."""

    def __init__(self, task: str) -> None:
        super().__init__(f"task {task} was not queued: the broker did not take it")
        self.task = task


def celery_sender(celery: Any, broker_url: str) -> Callable[..., None]:
    """A ``send_task(name, *args, **kwargs)`` that publishes to ``broker_url``.

    The API processes only send tasks; they never run ``configure_celery``, so the broker is
    set here, or Celery would publish to its default broker and the task would be lost.
    Publishing retries briefly (:data:`PUBLISH_RETRY_POLICY`); when the broker still does not
    take the task, the failure is logged (``task.enqueue.failed``) and
    :class:`TaskNotQueued` raised, which the session's after-commit step expects.
    """
    celery.conf.broker_url = broker_url
    celery.conf.broker_transport_options = {
        **(celery.conf.broker_transport_options or {}),
        "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_SECONDS,
    }

    def send_task(name: str, *args: Any, **kwargs: Any) -> None:
        try:
            celery.send_task(name, args=args, kwargs=kwargs, retry_policy=PUBLISH_RETRY_POLICY)
        except Exception as exc:
            log.warning("task.enqueue.failed", task=name, error=str(exc))
            raise TaskNotQueued(name) from exc

    return send_task
