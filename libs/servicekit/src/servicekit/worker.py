"""The Celery configuration every service's worker and beat share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from celery import Celery


def configure_celery_app(
    celery: Celery,
    *,
    broker_url: str,
    task_modules: Sequence[str],
    beat_schedule: Mapping[str, float],
) -> Celery:
    """Point ``celery`` at ``broker_url``, import ``task_modules`` and set the beat schedule.

    ``beat_schedule`` maps a task name to its interval in seconds; each entry is named after
    its task. Tasks are acknowledged late and a worker takes one at a time, so a task whose
    worker dies is delivered again; results are not stored (tasks write to the database).
    The worker leaves the logging configuration of the process alone
    (``worker_hijack_root_logger``): the service's own JSON logging stays in place.
    """
    celery.conf.update(
        broker_url=broker_url,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        include=list(task_modules),
        beat_schedule={
            name: {"task": name, "schedule": seconds} for name, seconds in beat_schedule.items()
        },
    )
    celery.loader.import_default_modules()
    return celery
