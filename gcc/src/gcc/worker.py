"""The GCC's Celery configuration: webhook delivery, health classification, escalation email
and the release gates, each on its beat schedule.

Tasks are thin: each runs one coroutine against the process's :class:`Runtime`, built on first
use in each worker process (or thread, for an in-process test worker) and kept for its life.
"""

from __future__ import annotations

from gcc.celery_app import BEAT_SCHEDULE as BEAT_SCHEDULE
from gcc.celery_app import celery_app as celery_app
from gcc.runtime import Runtime, open_runtime
from gcc.settings import Settings, get_settings
from servicekit.worker import ServiceWorker

TASK_MODULES = [
    "gcc.delivery.tasks",
    "gcc.health.tasks",
    "gcc.escalations.tasks",
    "gcc.releases.tasks",
    "gcc.rollouts.tasks",
]


worker: ServiceWorker[Settings, Runtime] = ServiceWorker(
    celery_app, open_runtime, get_settings, TASK_MODULES, BEAT_SCHEDULE
)
configure_celery, use_clock = worker.configure_celery, worker.use_clock
run_task, close_task_runtime = worker.run, worker.close
