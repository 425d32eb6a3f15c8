"""The local stack starts Prometheus when it is installed, says where it is, and scrapes every
API and worker of the stack with the alert rules loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tools.stack import CustomerSpec, Stack, StackConfig
from tools.waiting import wait_until
from wrktalk_testing.network import free_port


def _config(tmp_path: Path, prometheus_port: int | None) -> StackConfig:
    return StackConfig(
        var=tmp_path,
        gcc_port=free_port(),
        customers=(CustomerSpec("acme", free_port(), 1, worker_metrics_port=free_port()),),
        prometheus_port=prometheus_port,
        gcc_worker_metrics_port=free_port(),
    )


def test_without_a_port_prometheus_is_not_started(tmp_path: Path) -> None:
    stack = Stack(_config(tmp_path, None))
    stack.start_prometheus()
    assert stack.processes == {}
    assert stack.prometheus_line.split() == ["Prometheus", "not", "started"]


def test_the_stack_runs_prometheus_and_prints_its_address(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not installed: apt-get install -y prometheus")
    port = free_port()
    stack = Stack(_config(tmp_path, port))
    try:
        stack.start_prometheus()
        url = f"http://127.0.0.1:{port}"
        assert stack.prometheus_line.split() == ["Prometheus", url]
        jobs: set[str] = set()

        def discovered() -> bool:
            targets = httpx.get(f"{url}/api/v1/targets", timeout=10).json()["data"]
            jobs.update(target["labels"]["job"] for target in targets["activeTargets"])
            return len(jobs) == 4

        # Prometheus discovers its static targets shortly after it is ready
        wait_until(discovered, timeout=30, what="Prometheus to list the stack's targets")
        rules = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    finally:
        stack.stop()

    assert jobs == {"gcc-api", "gcc-worker", "customer-backend-api", "customer-backend-worker"}
    alerts = {rule["name"] for group in rules for rule in group["rules"]}
    assert {"WrktalkFanoutStuck", "WrktalkOutboxStale", "WrktalkAgentOffline"} <= alerts
