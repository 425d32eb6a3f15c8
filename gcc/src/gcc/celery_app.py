"""The GCC's Celery app, alone in a leaf module, and the tasks beat runs.

The runtime sends tasks through it and the worker configures it; neither imports the other.
Both route the same way: the scheduled tasks go to their own queue
(``servicekit.worker.SCHEDULE_QUEUE``), so they never wait behind the work they hand out.
"""

from celery import Celery

from servicekit.worker import route_tasks

BEAT_SCHEDULE: dict[str, str | float] = {
    "delivery.dispatch_due": "dispatch_interval_seconds",
    "health.classify": "health_interval_seconds",
    "escalations.notify_new": "health_interval_seconds",
    # Delivers a release held back by the license or version gate once it clears.
    "releases.recheck_gates": "health_interval_seconds",
}
"""Each periodic task, and the setting that holds its interval (or the interval in seconds)."""


celery_app = route_tasks(Celery("gcc"), scheduled=BEAT_SCHEDULE)
