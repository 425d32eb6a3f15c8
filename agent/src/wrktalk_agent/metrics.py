"""The agent's Prometheus metrics, served on an optional port or written to a textfile.

With ``metrics_port`` set the agent answers ``/metrics`` there. Without it, and with
``metrics_textfile`` set, it rewrites that file (atomically) after every poll, for node
exporter's textfile collector on the same host. Labels: the executor (the deployment type)
and how a task ended, a handful of values each.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server, write_to_textfile

from wrktalk_agent.settings import Settings

TASK_DURATION = Histogram(
    "wrktalk_agent_task_duration_seconds",
    "Time a task ran on this agent, from its start to its outcome being known, by executor "
    "(kubernetes, compose, gitops) and outcome (completed, failed, abandoned, interrupted).",
    ["executor", "outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
)
HEARTBEAT_FAILURES = Counter(
    "wrktalk_agent_heartbeat_failures_total",
    "Task heartbeats the backend did not accept (or that did not reach it).",
)
POLL_FAILURES = Counter("wrktalk_agent_poll_failures_total", "Polls of the backend that failed.")


def start_exposition(settings: Settings) -> None:
    """Serve ``/metrics`` on ``metrics_port`` when it is set (every address)."""
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.metrics_address)


def write_textfile(settings: Settings) -> None:
    """Rewrite the textfile-collector file, when one is set and no port is."""
    if settings.metrics_port is None and settings.metrics_textfile:
        write_to_textfile(settings.metrics_textfile, REGISTRY)
