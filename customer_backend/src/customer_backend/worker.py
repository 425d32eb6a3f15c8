"""The customer backend's Celery configuration: GCC polls and reports, artifact downloads,
deployment timelines and email, each on its beat schedule (see servicekit.tasks for how a task
reaches the async services)."""

from __future__ import annotations

from customer_backend.celery_app import celery_app
from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings, get_settings
from servicekit.worker import ServiceWorker

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


def _beat_schedule(settings: Settings) -> dict[str, float]:
    """Each periodic task's interval, in seconds."""
    return {
        "intake.poll_gcc": settings.gcc_poll_interval,
        "reporting.send_heartbeat": settings.gcc_poll_interval,
        "intake.retry_downloads": settings.timeline_interval_seconds,
        "deployments.run_timelines": settings.timeline_interval_seconds,
        "notifications.send_pending": OUTBOX_INTERVAL_SECONDS,
        "reporting.flush_outbox": OUTBOX_INTERVAL_SECONDS,
    }


worker: ServiceWorker[Settings, Runtime] = ServiceWorker(
    celery_app, open_runtime, get_settings, TASK_MODULES, _beat_schedule
)
configure_celery, use_clock = worker.configure_celery, worker.use_clock
run_task, close_task_runtime = worker.run, worker.close
