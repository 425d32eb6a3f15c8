"""Every metric the tiers define follows Prometheus's conventions, and the alert rules ask
only for metrics that exist.

The names start with ``wrktalk_`` and the tier; a counter's exposed name ends in ``_total``;
a histogram and an age say their unit (``_seconds``, ``_bytes``); labels take a handful of
values each, so none names an organization, a release or a task.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from customer_backend import metrics as backend_metrics
from gcc import metrics as gcc_metrics
from wrktalk_agent import metrics as agent_metrics

ROOT = Path(__file__).resolve().parents[1]
TIERS = {"gcc": gcc_metrics, "backend": backend_metrics, "agent": agent_metrics}
BOUNDED_LABELS = {"outcome", "type", "status", "health", "executor"}
UNITS = ("_seconds", "_bytes", "_timestamp_seconds")


def _defined() -> list[tuple[str, MetricWrapperBase]]:
    return [
        (tier, value)
        for tier, module in TIERS.items()
        for value in vars(module).values()
        if isinstance(value, MetricWrapperBase)
    ]


@pytest.mark.parametrize(
    ("tier", "metric"), [pytest.param(*found, id=found[1]._name) for found in _defined()]
)
def test_a_metric_is_named_and_labelled_by_the_conventions(
    tier: str, metric: MetricWrapperBase
) -> None:
    name = metric._name
    assert name.startswith(f"wrktalk_{tier}_")
    assert re.fullmatch(r"[a-z][a-z0-9_]*", name)
    assert set(metric._labelnames) <= BOUNDED_LABELS
    assert metric._documentation.strip()
    if isinstance(metric, Counter):
        assert not name.endswith("_total"), "prometheus-client adds _total itself"
    if isinstance(metric, Histogram):
        assert name.endswith(UNITS)
    if isinstance(metric, Gauge) and re.search(r"_(age|last_seen)(_|$)", name):
        assert name.endswith(UNITS)


def test_every_tier_defines_its_metrics() -> None:
    kinds = {
        tier: {type(metric) for found, metric in _defined() if found == tier} for tier in TIERS
    }
    assert kinds["gcc"] == {Counter, Gauge, Histogram}
    assert kinds["backend"] == {Counter, Gauge, Histogram}
    assert kinds["agent"] == {Counter, Histogram}


def test_the_alert_rules_ask_only_for_metrics_the_tiers_expose() -> None:
    exposed = {
        exposition
        for _, metric in _defined()
        for exposition in (
            metric._name,
            f"{metric._name}_total",
            f"{metric._name}_bucket",
            f"{metric._name}_count",
            f"{metric._name}_sum",
        )
    }
    rules = (ROOT / "infra" / "prometheus" / "alerts.yml").read_text()
    asked = set(re.findall(r"\bwrktalk_[a-z_]+", rules))
    alert_names = {name.lower() for name in re.findall(r"alert:\s*(\w+)", rules)}
    asked -= alert_names
    assert asked
    assert sorted(asked - exposed) == []
