"""Celery tasks of the health domain."""

from __future__ import annotations

from gcc.health.service import Classification, classify_health
from gcc.runtime import Runtime
from gcc.worker import celery_app, run_task
from servicekit.db import session_scope


async def _classify(runtime: Runtime) -> Classification:
    async with session_scope(runtime.session_factory) as session:
        return await classify_health(session, clock=runtime.clock, settings=runtime.settings)


@celery_app.task(name="health.classify")  # type: ignore[untyped-decorator]
def classify() -> dict[str, int]:
    """Classify every organization's health and raise the escalations that follow (beat)."""
    result = run_task(_classify)
    return {
        "organizationsChanged": result.organizations_changed,
        "clientOfflineRaised": result.client_offline_raised,
        "clientOfflineResolved": result.client_offline_resolved,
        "forcedDeadlineRaised": result.forced_deadline_raised,
    }
