"""The Celery app's configuration, its beat schedule, and how a task reaches the services.

Tasks are thin: each runs one coroutine against the process's :class:`Runtime`, which is
built on first use in each worker process (or thread, for an in-process test worker) and
kept for the process's life, so engines and HTTP pools are not rebuilt per task.
"""

from __future__ import annotations

from celery import Celery

from customer_backend.celery_app import celery_app
from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings, get_settings
from servicekit.tasks import WorkerRuntime
from servicekit.worker import configure_celery_app

__all__ = ["celery_app", "close_task_runtime", "configure_celery", "run_task", "use_clock"]

TASK_MODULES = [
    "customer_backend.intake.tasks",
    "customer_backend.deployments.tasks",
    "customer_backend.tasks.tasks",
    "customer_backend.notifications.tasks",
    "customer_backend.reporting.tasks",
]

OUTBOX_INTERVAL_SECONDS = 15.0
"""How often pending email and reports to GCC that failed are tried again."""


def configure_celery(settings: Settings) -> Celery:
    """Point the Celery app at the broker and set the beat schedule from ``settings``."""
    configure_celery_app(
        celery_app,
        broker_url=settings.redis_url,
        task_modules=TASK_MODULES,
        beat_schedule={
            "intake.poll_gcc": settings.gcc_poll_interval,
            "reporting.send_heartbeat": settings.gcc_poll_interval,
            "intake.retry_downloads": settings.timeline_interval_seconds,
            "deployments.run_timelines": settings.timeline_interval_seconds,
            "notifications.send_pending": OUTBOX_INTERVAL_SECONDS,
            "reporting.flush_outbox": OUTBOX_INTERVAL_SECONDS,
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
