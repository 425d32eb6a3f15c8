"""The Celery app's configuration, its beat schedule, and how a task reaches the services.

Tasks are thin: each runs one coroutine against the process's :class:`Runtime`, which is
built on first use in each worker process (or thread, for an in-process test worker) and
kept for the process's life, so engines and HTTP pools are not rebuilt per task.
"""

from __future__ import annotations

from celery import Celery

from gcc.celery_app import celery_app
from gcc.runtime import Runtime, open_runtime
from gcc.settings import Settings, get_settings
from servicekit.tasks import WorkerRuntime
from servicekit.worker import configure_celery_app

__all__ = ["celery_app", "close_task_runtime", "configure_celery", "run_task", "use_clock"]

TASK_MODULES = [
    "gcc.delivery.tasks",
    "gcc.health.tasks",
    "gcc.escalations.tasks",
    "gcc.releases.tasks",
]


def configure_celery(settings: Settings) -> Celery:
    """Point the Celery app at the broker and set the beat schedule from ``settings``."""
    configure_celery_app(
        celery_app,
        broker_url=settings.redis_url,
        task_modules=TASK_MODULES,
        beat_schedule={
            "delivery.dispatch_due": settings.dispatch_interval_seconds,
            "health.classify": settings.health_interval_seconds,
            "escalations.notify_new": settings.health_interval_seconds,
            # Delivers a release held back by the license or version gate once it clears.
            "releases.recheck_gates": settings.health_interval_seconds,
        },
    )
    _worker.configure(settings)
    return celery_app


_worker: WorkerRuntime[Settings, Runtime] = WorkerRuntime(
    lambda settings, clock: open_runtime(settings, clock=clock), get_settings
)

use_clock = _worker.use_clock
run_task = _worker.run
close_task_runtime = _worker.close
