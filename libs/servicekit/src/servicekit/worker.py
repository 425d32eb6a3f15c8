"""The Celery configuration every service's worker and beat share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol, TypeVar

from celery import Celery
from kombu.entity import Queue

from servicekit.tasks import BROKER_CONNECT_TIMEOUT_SECONDS, HasClock, WorkerRuntime

DEFAULT_QUEUE: Final = "celery"
"""The queue of every task that is not routed elsewhere: deliveries, downloads, email."""

SCHEDULE_QUEUE: Final = "schedule"
"""The queue of the tasks beat schedules (and of the same tasks sent by anyone else).

They find due work in the database and hand it out; in the default queue they would wait
behind every delivery batch already queued, and the fan-out would stall behind itself."""

DEFAULT_VISIBILITY_TIMEOUT_SECONDS: Final = 300.0
"""The broker's visibility timeout unless a tier's settings say otherwise."""


def route_tasks(
    celery: Celery, *, scheduled: Iterable[str], routes: Mapping[str, str] | None = None
) -> Celery:
    """Declare the app's queues and send each ``scheduled`` task to :data:`SCHEDULE_QUEUE`.

    ``routes`` maps other task names to a queue of their own; routes set before are kept.
    Every sender of the app (the API's after-commit sends, beat, tasks sending tasks) routes
    the same way, and a worker started without ``--queues`` consumes every declared queue.
    """
    task_routes = {name: route["queue"] for name, route in _routes_of(celery).items()}
    task_routes |= dict.fromkeys(scheduled, SCHEDULE_QUEUE) | dict(routes or {})
    declared = dict.fromkeys([DEFAULT_QUEUE, SCHEDULE_QUEUE, *task_routes.values()])
    celery.conf.update(
        task_default_queue=DEFAULT_QUEUE,
        task_queues=[_queue(name) for name in declared],
        task_routes={name: {"queue": queue} for name, queue in task_routes.items()},
    )
    return celery


def _queue(name: str) -> Queue:
    return Queue(name)  # type: ignore[no-untyped-call]


def _routes_of(celery: Celery) -> dict[str, dict[str, str]]:
    routes = celery.conf.task_routes
    return dict(routes) if isinstance(routes, Mapping) else {}


def queue_names(celery: Celery) -> list[str]:
    """The queues ``celery`` declares (all of which its workers consume by default)."""
    queues = celery.conf.task_queues or [_queue(celery.conf.task_default_queue)]
    return [queue.name for queue in queues]


def configure_celery_app(
    celery: Celery,
    *,
    broker_url: str,
    task_modules: Sequence[str],
    beat_schedule: Mapping[str, float],
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
) -> Celery:
    """Point ``celery`` at ``broker_url``, import ``task_modules`` and set the beat schedule.

    ``beat_schedule`` maps a task name to its interval in seconds; each entry is named after
    its task, and the task goes to :data:`SCHEDULE_QUEUE` (:func:`route_tasks`).

    Acknowledgement (the reasons are in ``docs/architecture.md``): a task is acknowledged
    when it starts (``task_acks_late=False``), so the broker never hands a task out twice;
    the database is the record of work, and beat's periodic tasks find whatever a task that
    died left undone. ``visibility_timeout`` is how long Redis waits before handing out again
    a message that a worker reserved and never acknowledged (a worker killed with tasks
    prefetched). A worker takes one task at a time; results are not stored (tasks write to
    the database). The worker leaves the logging configuration of the process alone
    (``worker_hijack_root_logger``): the service's own JSON logging stays in place.
    """
    celery.conf.update(
        broker_url=broker_url,
        broker_transport_options={
            **(celery.conf.broker_transport_options or {}),
            "visibility_timeout": visibility_timeout,
            "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_SECONDS,
        },
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=False,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        include=list(task_modules),
        beat_schedule={
            name: {"task": name, "schedule": seconds} for name, seconds in beat_schedule.items()
        },
    )
    route_tasks(celery, scheduled=beat_schedule)
    celery.loader.import_default_modules()
    return celery


class BrokerSettings(Protocol):
    """What the worker reads from a tier's settings."""

    @property
    def redis_url(self) -> str:
        """The Celery broker."""
        ...

    @property
    def broker_visibility_timeout_seconds(self) -> float:
        """How long Redis keeps a reserved, unacknowledged message from other workers."""
        ...


S = TypeVar("S", bound=BrokerSettings)
R = TypeVar("R", bound=HasClock)


class ServiceWorker(WorkerRuntime[S, R]):
    """A tier's Celery app with its task modules and beat schedule, and the runtime its tasks
    run on (see :class:`servicekit.tasks.WorkerRuntime`)."""

    def __init__(
        self,
        celery: Celery,
        open_runtime: Callable[..., AbstractAsyncContextManager[R]],
        default_settings: Callable[[], S],
        task_modules: Sequence[str],
        beat_schedule: Mapping[str, str | float],
    ) -> None:
        """``open_runtime(settings, clock=...)`` yields a runtime; ``beat_schedule`` maps each
        periodic task's name to its interval: the name of the setting that holds it, or a
        number of seconds."""
        super().__init__(
            lambda settings, clock: open_runtime(settings, clock=clock), default_settings
        )
        self.celery = celery
        self.task_modules = list(task_modules)
        self.beat_schedule = dict(beat_schedule)

    def configure_celery(self, settings: S) -> Celery:
        """Point the Celery app at the broker, set the beat schedule, and make the tasks run
        with ``settings`` (the worker command and tests)."""
        configure_celery_app(
            self.celery,
            broker_url=settings.redis_url,
            visibility_timeout=settings.broker_visibility_timeout_seconds,
            task_modules=self.task_modules,
            beat_schedule={
                task: float(getattr(settings, interval) if isinstance(interval, str) else interval)
                for task, interval in self.beat_schedule.items()
            },
        )
        self.configure(settings)
        return self.celery
