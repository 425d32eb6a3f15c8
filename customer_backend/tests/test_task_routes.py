"""Which queue each of the customer backend's tasks goes to."""

from __future__ import annotations

from celery import Celery

from customer_backend.celery_app import BEAT_SCHEDULE, celery_app
from servicekit.worker import DEFAULT_QUEUE, SCHEDULE_QUEUE, queue_names


def routed_queue(celery: Celery, task: str) -> str:
    return str(celery.amqp.router.route({}, task)["queue"].name)


def test_beat_tasks_go_to_the_schedule_queue_and_downloads_to_the_default_queue() -> None:
    scheduled = {
        "intake.poll_gcc",
        "reporting.send_heartbeat",
        "intake.retry_downloads",
        "deployments.run_timelines",
        "intake.apply_retention",
        "notifications.send_pending",
        "reporting.flush_outbox",
    }
    assert set(BEAT_SCHEDULE) == scheduled
    for task in scheduled:
        assert routed_queue(celery_app, task) == SCHEDULE_QUEUE, task
    assert routed_queue(celery_app, "intake.download_release") == DEFAULT_QUEUE
    assert queue_names(celery_app) == [DEFAULT_QUEUE, SCHEDULE_QUEUE]
