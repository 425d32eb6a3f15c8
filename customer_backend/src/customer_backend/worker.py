"""The customer backend's Celery configuration: GCC polls and reports, artifact downloads,
deployment timelines and email, each on its beat schedule (see servicekit.tasks for how a task
reaches the async services)."""

from __future__ import annotations

from customer_backend.celery_app import celery_app as celery_app
from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings, get_settings
from servicekit.worker import ServiceWorker

TASK_MODULES = [
    "customer_backend.intake.tasks",
    "customer_backend.deployments.tasks",
    "customer_backend.notifications.tasks",
    "customer_backend.reporting.tasks",
]

OUTBOX_INTERVAL_SECONDS = 15.0
"""How often pending email and reports to GCC that failed are tried again."""


BEAT_SCHEDULE: dict[str, str | float] = {
    "intake.poll_gcc": "gcc_poll_interval",
    "reporting.send_heartbeat": "gcc_poll_interval",
    "intake.retry_downloads": "timeline_interval_seconds",
    "deployments.run_timelines": "timeline_interval_seconds",
    "notifications.send_pending": OUTBOX_INTERVAL_SECONDS,
    "reporting.flush_outbox": OUTBOX_INTERVAL_SECONDS,
}
"""Each periodic task, and the setting that holds its interval (or the interval in seconds)."""


worker: ServiceWorker[Settings, Runtime] = ServiceWorker(
    celery_app, open_runtime, get_settings, TASK_MODULES, BEAT_SCHEDULE
)
configure_celery, use_clock = worker.configure_celery, worker.use_clock
run_task, close_task_runtime = worker.run, worker.close
