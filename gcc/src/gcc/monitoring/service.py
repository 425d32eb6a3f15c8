"""Set the GCC's database gauges before a scrape (:mod:`gcc.metrics` defines them).

Every known state is set, to zero when no row has it, so a series does not vanish when its
last row changes state (an alert on it would otherwise never resolve).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import Gauge

from contracts import DeploymentStatus, EscalationType, HealthStatus, ReleaseStatus
from gcc import metrics
from gcc.monitoring import repository
from gcc.runtime import Runtime
from servicekit.db import session_scope


async def refresh_metrics(runtime: Runtime) -> None:
    """Read the backlogs and states from the database into the gauges."""
    now = runtime.clock.now()
    async with session_scope(runtime.session_factory) as session:
        backlog = await repository.delivery_backlog(session, now=now)
        health = await repository.organizations_by_health(session)
        escalations = await repository.open_escalations(session)
        releases = await repository.releases_by_status(session)
        targets = await repository.deployment_targets_by_status(session)
    metrics.DELIVERIES_DUE.set(backlog.due)
    metrics.DELIVERIES_WAITING_RETRY.set(backlog.waiting_retry)
    metrics.OLDEST_PENDING_DELIVERY_AGE.set(_age(backlog.oldest_created_at, now))
    _set_each(metrics.ORGANIZATIONS, HealthStatus, health)
    _set_each(metrics.RELEASES, ReleaseStatus, releases)
    _set_each(metrics.DEPLOYMENT_TARGETS, DeploymentStatus, targets)
    _set_each(
        metrics.ESCALATIONS_OPEN,
        EscalationType,
        {kind: open_.count for kind, open_ in escalations.items()},
    )
    _set_each(
        metrics.OLDEST_OPEN_ESCALATION_AGE,
        EscalationType,
        {kind: _age(open_.oldest_escalated_at, now) for kind, open_ in escalations.items()},
    )


def _set_each(gauge: Gauge, known: Iterable[str], values: Mapping[str, float]) -> None:
    for label in {*map(str, known), *values}:
        gauge.labels(label).set(values.get(label, 0))


def _age(since: datetime | None, now: datetime) -> float:
    return max((now - since).total_seconds(), 0.0) if since is not None else 0.0
