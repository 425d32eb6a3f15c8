"""Sending a tier's periodic task through its broker, as its beat does, from a test."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from servicekit.worker import route_tasks


def beat_sender(broker_url: str, task_name: str) -> Callable[[], None]:
    """A function that sends ``task_name`` to the schedule queue its workers consume.

    Beat runs a task at its interval; a test that has just written due work sends the task
    itself rather than wait for the next interval, as the API does after a commit.
    """
    celery = route_tasks(Celery("chaos", broker=broker_url), scheduled=[task_name])

    def send() -> None:
        celery.send_task(task_name)

    return send
