"""A Celery worker's ``/metrics``: its tasks run in forked pool processes, and the listener in
the worker's main process answers with the sum of what every pool process counted.

The worker is started as the ``worker`` command starts it (:func:`serve_worker_metrics`, which
starts the process again in multiprocess mode, then :func:`run_worker`), in a subprocess with
two pool processes, on the test session's Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from celery import Celery

from testsupport.metrics import sample_values
from wrktalk_testing.network import free_port

QUEUE = "wrktalk-test-worker-metrics"
COUNTED = "wrktalk_test_tasks_total"

COUNTED_WORKER = textwrap.dedent(
    """
    import os

    from celery import Celery
    from prometheus_client import Counter

    BROKER = os.environ["COUNTED_BROKER"]
    app = Celery("counted", broker=BROKER, backend=BROKER)
    DONE = Counter("wrktalk_test_tasks", "Tasks done, by pool process.", ["pid"])


    @app.task(name="count")
    def count() -> int:
        DONE.labels(str(os.getpid())).inc()
        return os.getpid()


    @app.task(name="heap")
    def heap() -> list[int]:
        import gc

        return [gc.get_freeze_count(), gc.get_threshold()[0]]
    """
)

WORKER = textwrap.dedent(
    """
    from servicekit.processes import run_worker, serve_worker_metrics

    serve_worker_metrics({port}, concurrency=2)
    import counted_worker

    run_worker(counted_worker.app, log_level="WARNING", concurrency=2, queues=["{queue}"])
    """
)


@pytest.fixture
def worker(tmp_path: Path, redis_url: str) -> Iterator[str]:
    """A worker with two pool processes consuming the test's queue; its metrics URL."""
    (tmp_path / "counted_worker.py").write_text(COUNTED_WORKER)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"
    }
    environment.update(
        PYTHONPATH=os.pathsep.join([str(tmp_path), environment.get("PYTHONPATH", "")]),
        COUNTED_BROKER=redis_url,
        TMPDIR=str(scratch),
    )
    with (tmp_path / "worker.log").open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER.format(port=port, queue=QUEUE)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scrape(url: str) -> dict[str, float]:
    deadline = time.monotonic() + 60
    while True:
        try:
            samples = sample_values(httpx.get(url, timeout=2).text)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        return {
            dict(labels)["pid"]: value
            for (name, labels), value in samples.items()
            if name == COUNTED
        }


def test_a_worker_scrape_sums_the_tasks_of_its_pool_processes(worker: str, redis_url: str) -> None:
    assert _scrape(worker) == {}
    sender = Celery("sender", broker=redis_url, backend=redis_url)
    try:
        pids: list[int] = []
        while len(set(pids)) < 2 and len(pids) < 200:
            results = [sender.send_task("count", queue=QUEUE) for _ in range(10)]
            pids.extend(result.get(timeout=60) for result in results)
    finally:
        sender.close()
    assert len(set(pids)) == 2, "one pool process ran every task"
    assert os.getpid() not in pids

    by_pid = _scrape(worker)

    assert sum(by_pid.values()) == len(pids)
    assert by_pid == {str(pid): float(pids.count(pid)) for pid in set(pids)}


def test_a_pool_process_runs_with_its_start_up_heap_frozen(worker: str, redis_url: str) -> None:
    from servicekit.processes import YOUNG_COLLECTION_THRESHOLD

    sender = Celery("sender", broker=redis_url, backend=redis_url)
    try:
        frozen, young_threshold = sender.send_task("heap", queue=QUEUE).get(timeout=60)
    finally:
        sender.close()

    assert frozen > 10_000, "the objects the pool process started with are frozen"
    assert young_threshold == YOUNG_COLLECTION_THRESHOLD
