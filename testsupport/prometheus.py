"""A real Prometheus (Debian's package) scraping services served on loopback, for tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from wrktalk_testing.network import free_port

INSTALL_HINT = "apt-get install -y prometheus (.ci/install-prometheus.sh)"


def require_prometheus() -> str:
    """The prometheus executable; the test is skipped when it is not installed."""
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip(f"prometheus is not installed: {INSTALL_HINT}")
    return found


class Prometheus:
    """A running server: PromQL over its HTTP API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def query(self, promql: str) -> list[dict[str, object]]:
        """The result vector of an instant query."""
        response = httpx.get(f"{self.base_url}/api/v1/query", params={"query": promql})
        response.raise_for_status()
        result: list[dict[str, object]] = response.json()["data"]["result"]
        return result

    def scalar(self, promql: str) -> float | None:
        """The single value of a query that returns one series, or None for no series."""
        result = self.query(promql)
        if not result:
            return None
        value = result[0]["value"]
        assert isinstance(value, list)
        return float(value[1])

    def wait_for(self, promql: str, expected: float, *, within: float = 60.0) -> float | None:
        """Query until the value is ``expected`` (scrapes come every second); the last value."""
        deadline = time.monotonic() + within
        value = self.scalar(promql)
        while value != expected and time.monotonic() < deadline:
            time.sleep(0.5)
            value = self.scalar(promql)
        return value


@contextmanager
def running_prometheus(
    directory: Path, jobs: Mapping[str, Sequence[str]], *, interval: str = "1s"
) -> Iterator[Prometheus]:
    """Run Prometheus scraping ``jobs`` (name to ``host:port`` targets) until the block ends."""
    executable = require_prometheus()
    port = free_port()
    config = directory / "prometheus.yml"
    lines = [f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"]
    lines.append("scrape_configs:\n")
    for job, targets in jobs.items():
        listed = ", ".join(f'"{target}"' for target in targets)
        lines.append(f"  - job_name: {job}\n    static_configs:\n      - targets: [{listed}]\n")
    config.write_text("".join(lines))
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            executable,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, process, directory)
        yield Prometheus(base_url)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], directory: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((directory / "prometheus.log").read_text())
        try:
            if httpx.get(f"{base_url}/-/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("prometheus did not become ready")
