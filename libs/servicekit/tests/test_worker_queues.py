"""Beat's tasks have a queue of their own, and a worker consumes it with the default queue."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from servicekit.processes import worker_arguments
from servicekit.worker import (
    DEFAULT_QUEUE,
    SCHEDULE_QUEUE,
    configure_celery_app,
    queue_names,
    route_tasks,
)


def _routed_queue(celery: Celery, task: str) -> str:
    return str(celery.amqp.router.route({}, task)["queue"].name)


def test_scheduled_tasks_go_to_the_schedule_queue_and_the_rest_to_the_default_queue() -> None:
    celery = route_tasks(Celery("routes"), scheduled=["domain.dispatch_due"])
    assert _routed_queue(celery, "domain.dispatch_due") == SCHEDULE_QUEUE
    assert _routed_queue(celery, "domain.pump") == DEFAULT_QUEUE
    assert queue_names(celery) == [DEFAULT_QUEUE, SCHEDULE_QUEUE]


def test_configuring_the_worker_keeps_the_routes_the_app_was_built_with() -> None:
    celery = route_tasks(Celery("routes-kept"), scheduled=[], routes={"domain.slow": "slow"})
    configure_celery_app(
        celery,
        broker_url="redis://127.0.0.1:6379/9",
        task_modules=[],
        beat_schedule={"domain.tick": 5.0},
    )
    assert _routed_queue(celery, "domain.tick") == SCHEDULE_QUEUE
    assert _routed_queue(celery, "domain.slow") == "slow"
    assert queue_names(celery) == [DEFAULT_QUEUE, SCHEDULE_QUEUE, "slow"]


def test_the_worker_command_consumes_every_queue_unless_told_otherwise() -> None:
    celery = route_tasks(Celery("command"), scheduled=["domain.tick"])
    everything = worker_arguments(celery, log_level="INFO", concurrency=2)
    only_schedule = worker_arguments(
        celery, log_level="INFO", concurrency=1, queues=[SCHEDULE_QUEUE]
    )
    assert everything == [
        *("worker", "--loglevel", "INFO", "--concurrency", "2"),
        *("--queues", f"{DEFAULT_QUEUE},{SCHEDULE_QUEUE}"),
    ]
    assert only_schedule[-2:] == ["--queues", SCHEDULE_QUEUE]


@pytest.fixture
def queued_app(redis_url: str) -> Iterator[tuple[Celery, list[str], threading.Event]]:
    """An app with one scheduled and one ordinary task, on the test's Redis database."""
    celery = Celery("queues-test")
    ran: list[str] = []
    both_ran = threading.Event()

    def record(name: str) -> None:
        ran.append(name)
        if len(ran) == 2:
            both_ran.set()

    @celery.task(name="domain.tick")  # type: ignore[untyped-decorator]
    def tick() -> None:
        record("domain.tick")

    @celery.task(name="domain.work")  # type: ignore[untyped-decorator]
    def work() -> None:
        record("domain.work")

    configure_celery_app(
        celery, broker_url=redis_url, task_modules=[], beat_schedule={"domain.tick": 60.0}
    )
    yield celery, ran, both_ran
    redis.Redis.from_url(redis_url).delete(DEFAULT_QUEUE, SCHEDULE_QUEUE)


def test_a_started_worker_consumes_the_schedule_queue_and_the_default_queue(
    queued_app: tuple[Celery, list[str], threading.Event], redis_url: str
) -> None:
    celery, ran, both_ran = queued_app
    celery.send_task("domain.work")
    celery.send_task("domain.tick")
    broker = redis.Redis.from_url(redis_url)
    # each message waits in the list named after its queue
    assert (broker.llen(DEFAULT_QUEUE), broker.llen(SCHEDULE_QUEUE)) == (1, 1)

    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        assert both_ran.wait(timeout=30)

    assert sorted(ran) == ["domain.tick", "domain.work"]
