"""The Celery app, its beat schedule, and how a task reaches the async services.

Tasks are thin: each runs one coroutine against the process's :class:`Runtime`, which is
built on first use in each worker process (or thread, for an in-process test worker) and
kept for the process's life, so engines and HTTP pools are not rebuilt per task.
"""

from __future__ import annotations

from celery import Celery

from gcc.runtime import Runtime, open_runtime
from gcc.settings import Settings, get_settings
from servicekit.tasks import WorkerRuntime

celery_app = Celery("gcc")

TASK_MODULES = [
    "gcc.delivery.tasks",
    "gcc.health.tasks",
    "gcc.escalations.tasks",
    "gcc.releases.tasks",
]


def configure_celery(settings: Settings) -> Celery:
    """Point the Celery app at the broker and set the beat schedule from ``settings``."""
    celery_app.conf.update(
        broker_url=settings.redis_url,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        include=TASK_MODULES,
        beat_schedule={
            "delivery.dispatch_due": {
                "task": "delivery.dispatch_due",
                "schedule": settings.dispatch_interval_seconds,
            },
            "health.classify": {
                "task": "health.classify",
                "schedule": settings.health_interval_seconds,
            },
            "escalations.notify_new": {
                "task": "escalations.notify_new",
                "schedule": settings.health_interval_seconds,
            },
            # Delivers a release held back by the license or version gate once it clears.
            "releases.recheck_gates": {
                "task": "releases.recheck_gates",
                "schedule": settings.health_interval_seconds,
            },
        },
    )
    celery_app.loader.import_default_modules()
    for module in TASK_MODULES:
        __import__(module)
    _worker.configure(settings)
    return celery_app


_worker: WorkerRuntime[Settings, Runtime] = WorkerRuntime(
    lambda settings, clock: open_runtime(settings, clock=clock), get_settings
)

use_clock = _worker.use_clock
run_task = _worker.run
close_task_runtime = _worker.close
