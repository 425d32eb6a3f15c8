"""Which queue each of GCC's tasks goes to, as the API, the CLI and the worker send them."""

from __future__ import annotations

from celery import Celery

from gcc.celery_app import BEAT_SCHEDULE, celery_app
from servicekit.worker import DEFAULT_QUEUE, SCHEDULE_QUEUE, queue_names


def routed_queue(celery: Celery, task: str) -> str:
    return str(celery.amqp.router.route({}, task)["queue"].name)


def test_beat_tasks_go_to_the_schedule_queue_and_the_delivery_pump_to_the_default_queue() -> None:
    scheduled = {
        "delivery.dispatch_due",
        "health.classify",
        "escalations.notify_new",
        "releases.recheck_gates",
        "releases.remove_orphan_artifacts",
        "rollouts.evaluate",
    }
    assert set(BEAT_SCHEDULE) == scheduled
    for task in scheduled:
        assert routed_queue(celery_app, task) == SCHEDULE_QUEUE, task
    assert routed_queue(celery_app, "delivery.pump") == DEFAULT_QUEUE
    assert queue_names(celery_app) == [DEFAULT_QUEUE, SCHEDULE_QUEUE]
