"""Where ``serve --workers N`` forks server processes, a scrape of the metrics port answers
with the sum over all of them (prometheus-client's multiprocess mode), whichever answers.

The API is served by :func:`servicekit.processes.serve_api` itself, in a subprocess, as the
``serve`` command does: two uvicorn workers, each a fresh interpreter, ``/metrics`` on a port
of its own.
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

from testsupport.metrics import sample_values
from wrktalk_testing.network import free_port

COUNTED = "wrktalk_test_requests_total"

METERED_APP = textwrap.dedent(
    """
    import os
    from contextlib import asynccontextmanager
    from types import SimpleNamespace

    from fastapi import APIRouter
    from prometheus_client import Counter

    from servicekit.app import create_service_app

    REQUESTS = Counter("wrktalk_test_requests", "Requests served, by process.", ["pid"])
    router = APIRouter()


    @router.get("/work")
    async def work() -> dict[str, int]:
        REQUESTS.labels(str(os.getpid())).inc()
        return {"pid": os.getpid()}


    async def nothing_to_migrate() -> None:
        return None


    @asynccontextmanager
    async def open_runtime():
        yield SimpleNamespace(engine=None)


    def create():
        return create_service_app(
            title="metered",
            routers=[router],
            ensure_database_is_current=nothing_to_migrate,
            open_runtime=open_runtime,
            redis_url="redis://127.0.0.1:6379/0",
            metrics_port=int(os.environ["METERED_METRICS_PORT"]),
        )
    """
)

SERVE = textwrap.dedent(
    """
    import sys
    from servicekit.processes import serve_api

    async def migrated() -> None:
        return None

    sys.exit(serve_api(
        "metered_app:create", host="127.0.0.1", port={port}, workers=2,
        ensure_migrated=migrated, command="metered",
    ))
    """
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """Two uvicorn workers of the metered app: its URL, its metrics URL, and the temporary
    directory in which ``serve_api`` makes the multiprocess directory."""
    (tmp_path / "metered_app.py").write_text(METERED_APP)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port, metrics_port = free_port(), free_port()
    environment = {
        key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"
    }
    environment.update(
        PYTHONPATH=os.pathsep.join([str(tmp_path), environment.get("PYTHONPATH", "")]),
        METERED_METRICS_PORT=str(metrics_port),
        TMPDIR=str(scratch),
    )
    with (tmp_path / "serve.log").open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE.format(port=port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", scratch
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _until_answering(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_a_scrape_sums_the_requests_of_every_uvicorn_worker(
    served: tuple[str, str, Path],
) -> None:
    base_url, metrics_url, scratch = served
    _until_answering(f"{base_url}/work")
    _until_answering(metrics_url)
    # both workers answered /work before the baseline: each has its samples on file
    sent: dict[int, int] = {}
    while len(sent) < 2 and sum(sent.values()) < 2000:
        # a new connection each time: the kernel hands it to either worker
        pid = httpx.get(f"{base_url}/work", headers={"Connection": "close"}).json()["pid"]
        sent[pid] = sent.get(pid, 0) + 1
    assert len(sent) == 2, "every request went to one worker"
    sent_total = sum(sent.values()) + 1  # the first /work that _until_answering made

    scrapes = [sample_values(httpx.get(metrics_url, timeout=5).text) for _ in range(10)]

    for samples in scrapes:
        by_pid = {
            dict(labels)["pid"]: value
            for (name, labels), value in samples.items()
            if name == COUNTED
        }
        assert sum(by_pid.values()) == sent_total
        assert {str(pid) for pid in sent} <= set(by_pid)
    [directory] = scratch.iterdir()
    assert directory.name.startswith("wrktalk-metrics-")
    assert {path.suffix for path in directory.iterdir()} == {".db"}
