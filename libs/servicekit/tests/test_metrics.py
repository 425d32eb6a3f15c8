"""``/metrics``: on the API listener or on a port of its own, refreshed per scrape, and summed
over processes in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import Gauge

from servicekit.app import create_service_app
from wrktalk_testing.network import free_port
from wrktalk_testing.servers import ServedApp

SCRAPES = Gauge("wrktalk_test_scrapes", "Scrapes refreshed so far (this test's own gauge).")


@dataclass
class Runtime:
    """The smallest runtime the shell accepts; no probe is asked in these tests."""

    engine: Any = None
    scrapes: int = 0


async def nothing_to_migrate() -> None:
    return None


def served(metrics_port: int | None) -> tuple[ServedApp, Runtime]:
    runtime = Runtime()

    @asynccontextmanager
    async def open_runtime() -> AsyncIterator[Runtime]:
        yield runtime

    async def refresh(current: Runtime) -> None:
        current.scrapes += 1
        SCRAPES.set(current.scrapes)

    app = create_service_app(
        title="metered",
        routers=[],
        ensure_database_is_current=nothing_to_migrate,
        open_runtime=open_runtime,
        redis_url="redis://127.0.0.1:6379/0",
        metrics_port=metrics_port,
        refresh_metrics=refresh,
    )
    return ServedApp(app), runtime


def test_metrics_are_served_on_the_api_listener_and_refreshed_for_each_scrape() -> None:
    server, runtime = served(None)
    server.start()
    try:
        for expected in (1, 2):
            response = httpx.get(f"{server.base_url}/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            assert f"wrktalk_test_scrapes {expected}.0" in response.text
        assert runtime.scrapes == 2
        assert "/metrics" not in httpx.get(f"{server.base_url}/openapi.json").text
    finally:
        server.stop()


def test_a_metrics_port_takes_metrics_off_the_api_listener() -> None:
    port = free_port()
    server, _ = served(port)
    server.start()
    try:
        assert httpx.get(f"{server.base_url}/metrics").status_code == 404
        response = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert "wrktalk_test_scrapes 1.0" in response.text
    finally:
        server.stop()
    try:
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except httpx.ConnectError:
        return
    raise AssertionError("the metrics listener outlived the app")


COUNT_ONCE = textwrap.dedent(
    """
    from prometheus_client import Counter
    Counter("wrktalk_test_work_total", "Work done.").inc({amount})
    """
)


def test_in_multiprocess_mode_a_scrape_sums_every_process(tmp_path: Path) -> None:
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for amount in (2, 3):
        subprocess.run(
            [sys.executable, "-c", COUNT_ONCE.format(amount=amount)], env=environment, check=True
        )
    scraped = subprocess.run(
        [
            sys.executable,
            "-c",
            "from servicekit.metrics import is_multiprocess, render_metrics\n"
            "assert is_multiprocess()\n"
            "print(render_metrics().decode())",
        ],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "wrktalk_test_work_total 5.0" in scraped.stdout
