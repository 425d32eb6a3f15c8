"""The alert rules load in Prometheus and fire (and stay quiet) as their unit tests say."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[1] / "infra" / "prometheus"

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (apt-get install -y prometheus; .ci/install-prometheus.sh)",
)


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *arguments], cwd=RULES, capture_output=True, text=True, timeout=120
    )


@needs_promtool
def test_the_alert_rules_are_valid() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_the_alert_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


@needs_promtool
def test_the_docker_stack_scrape_configuration_is_valid() -> None:
    checked = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_has_a_runbook_entry() -> None:
    runbook = (RULES.parents[1] / "docs" / "operator-runbook.md").read_text()
    alerts = [
        line.split(":", 1)[1].strip()
        for line in (RULES / "alerts.yml").read_text().splitlines()
        if line.strip().startswith("- alert:")
    ]
    assert alerts
    assert [alert for alert in alerts if f"`{alert}`" not in runbook] == []


def test_the_dashboard_queries_only_metrics_the_tiers_define() -> None:
    dashboard = json.loads((RULES.parent / "grafana" / "wrktalk.json").read_text())
    sources = "".join(
        (RULES.parents[1] / path).read_text()
        for path in (
            "gcc/src/gcc/metrics.py",
            "customer_backend/src/customer_backend/metrics.py",
            "agent/src/wrktalk_agent/metrics.py",
        )
    )
    queried = {
        name.removesuffix("_bucket").removesuffix("_count")
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"wrktalk_[a-z_]+", target["expr"])
    }
    assert queried
    assert sorted(name for name in queried if f'"{name}"' not in sources) == []


def test_every_metric_the_tiers_define_is_in_the_runbook() -> None:
    runbook = (RULES.parents[1] / "docs" / "operator-runbook.md").read_text()
    defined = {
        name
        for path in (
            "gcc/src/gcc/metrics.py",
            "customer_backend/src/customer_backend/metrics.py",
            "agent/src/wrktalk_agent/metrics.py",
        )
        for name in re.findall(r'"(wrktalk_[a-z_]+)"', (RULES.parents[1] / path).read_text())
    }
    assert len(defined) > 20
    assert sorted(name for name in defined if f"`{name}`" not in runbook) == []


@needs_promtool
def test_the_local_stack_scrape_configuration_is_valid(tmp_path: Path) -> None:
    from tools import stack_prometheus

    configuration = tmp_path / "prometheus.yml"
    configuration.write_text(
        stack_prometheus.scrape_configuration(
            "127.0.0.1:3000",
            ["127.0.0.1:3001", "127.0.0.1:3002"],
            gcc_worker_target="127.0.0.1:9101",
            backend_worker_targets=["127.0.0.1:9111"],
        )
    )
    # checks the alert rules it names too
    checked = subprocess.run(
        ["promtool", "check", "config", str(configuration)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout + checked.stderr
    for job in ("gcc-api", "gcc-worker", "customer-backend-api", "customer-backend-worker"):
        assert f"job_name: {job}" in configuration.read_text()
