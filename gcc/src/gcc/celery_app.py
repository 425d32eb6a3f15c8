"""The GCC's Celery app, alone in a leaf module, and the tasks beat runs.

The runtime sends tasks through it and the worker configures it; neither imports the other.
Both route the same way: the scheduled tasks go to their own queue
(``servicekit.worker.SCHEDULE_QUEUE``), so they never wait behind the work they hand out.
"""

from celery import Celery

from servicekit.worker import route_tasks

ORPHAN_SWEEP_INTERVAL_SECONDS = 3600.0
"""How often beat looks for orphan artifacts; their age is counted in hours."""

BEAT_SCHEDULE: dict[str, str | float] = {
    "delivery.dispatch_due": "dispatch_interval_seconds",
    "health.classify": "health_interval_seconds",
    "escalations.notify_new": "health_interval_seconds",
    # Delivers a release held back by the license or version gate once it clears.
    "releases.recheck_gates": "health_interval_seconds",
    # Halts a phased rollout whose gate tripped, notifies the next wave of one that may go.
    "rollouts.evaluate": "rollout_interval_seconds",
    # Deletes uploaded artifacts no release references once GCC_ORPHAN_ARTIFACT_AGE has passed.
    "releases.remove_orphan_artifacts": ORPHAN_SWEEP_INTERVAL_SECONDS,
}
"""Each periodic task, and the setting that holds its interval (or the interval in seconds)."""


celery_app = route_tasks(Celery("gcc"), scheduled=BEAT_SCHEDULE)
