"""The customer backend's Celery app, alone in a leaf module, and the tasks beat runs.

The runtime sends tasks through it and the worker configures it; neither imports the other.
Both route the same way: the scheduled tasks go to their own queue
(``servicekit.worker.SCHEDULE_QUEUE``), so they never wait behind the work they hand out.
"""

from celery import Celery

from servicekit.worker import route_tasks

OUTBOX_INTERVAL_SECONDS = 15.0
"""How often pending email and reports to GCC that failed are tried again."""

RETENTION_SWEEP_INTERVAL_SECONDS = 3600.0
"""How often retention runs besides after each download (spec 8.3, error 3.4: a cleanup that
failed is retried by a background job)."""


BEAT_SCHEDULE: dict[str, str | float] = {
    "intake.poll_gcc": "gcc_poll_interval",
    "reporting.send_heartbeat": "gcc_poll_interval",
    "intake.retry_downloads": "timeline_interval_seconds",
    "deployments.run_timelines": "timeline_interval_seconds",
    "intake.apply_retention": RETENTION_SWEEP_INTERVAL_SECONDS,
    "notifications.send_pending": OUTBOX_INTERVAL_SECONDS,
    "reporting.flush_outbox": OUTBOX_INTERVAL_SECONDS,
}
"""Each periodic task, and the setting that holds its interval (or the interval in seconds)."""


celery_app = route_tasks(Celery("customer_backend"), scheduled=BEAT_SCHEDULE)
