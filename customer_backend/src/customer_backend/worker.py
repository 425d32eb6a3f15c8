"""The customer backend's Celery configuration: GCC polls and reports, artifact downloads,
deployment timelines and email, each on its beat schedule (see servicekit.tasks for how a task
reaches the async services)."""

from __future__ import annotations

from customer_backend.celery_app import BEAT_SCHEDULE as BEAT_SCHEDULE
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

worker: ServiceWorker[Settings, Runtime] = ServiceWorker(
    celery_app, open_runtime, get_settings, TASK_MODULES, BEAT_SCHEDULE
)
configure_celery, use_clock = worker.configure_celery, worker.use_clock
run_task, close_task_runtime = worker.run, worker.close
