"""The Celery configuration every service's worker and beat share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from celery import Celery

from servicekit.tasks import HasClock, WorkerRuntime


def configure_celery_app(
    celery: Celery,
    *,
    broker_url: str,
    task_modules: Sequence[str],
    beat_schedule: Mapping[str, float],
) -> Celery:
    """Point ``celery`` at ``broker_url``, import ``task_modules`` and set the beat schedule.

    ``beat_schedule`` maps a task name to its interval in seconds; each entry is named after
    its task. Tasks are acknowledged late and a worker takes one at a time, so a task whose
    worker dies is delivered again; results are not stored (tasks write to the database).
    The worker leaves the logging configuration of the process alone
    (``worker_hijack_root_logger``): the service's own JSON logging stays in place.
    """
    celery.conf.update(
        broker_url=broker_url,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        include=list(task_modules),
        beat_schedule={
            name: {"task": name, "schedule": seconds} for name, seconds in beat_schedule.items()
        },
    )
    celery.loader.import_default_modules()
    return celery


class BrokerSettings(Protocol):
    """What the worker reads from a tier's settings."""

    @property
    def redis_url(self) -> str:
        """The Celery broker."""
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
            task_modules=self.task_modules,
            beat_schedule={
                task: float(getattr(settings, interval) if isinstance(interval, str) else interval)
                for task, interval in self.beat_schedule.items()
            },
        )
        self.configure(settings)
        return self.celery
