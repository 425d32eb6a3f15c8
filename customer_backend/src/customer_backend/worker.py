"""The Celery app, its beat schedule, and how a task reaches the async services."""

from __future__ import annotations

from celery import Celery

from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings, get_settings
from servicekit.tasks import WorkerRuntime

celery_app = Celery("customer_backend")

TASK_MODULES = [
    "customer_backend.intake.tasks",
    "customer_backend.deployments.tasks",
    "customer_backend.notifications.tasks",
    "customer_backend.reporting.tasks",
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
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        include=TASK_MODULES,
        beat_schedule={
            "intake.poll_gcc": {
                "task": "intake.poll_gcc",
                "schedule": settings.gcc_poll_interval,
            },
            "reporting.send_heartbeat": {
                "task": "reporting.send_heartbeat",
                "schedule": settings.gcc_poll_interval,
            },
            "intake.retry_downloads": {
                "task": "intake.retry_downloads",
                "schedule": settings.timeline_interval_seconds,
            },
            "deployments.run_timelines": {
                "task": "deployments.run_timelines",
                "schedule": settings.timeline_interval_seconds,
            },
            "notifications.send_pending": {
                "task": "notifications.send_pending",
                "schedule": 15.0,
            },
            "reporting.flush_outbox": {
                "task": "reporting.flush_outbox",
                "schedule": 15.0,
            },
        },
    )
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
