"""Celery tasks of the deployments domain."""

from __future__ import annotations

from customer_backend.deployments.timelines import run_timelines as run_timeline_steps
from customer_backend.runtime import Runtime
from customer_backend.worker import celery_app, run_task


async def _run_timelines(runtime: Runtime) -> dict[str, int]:
    outcome = await run_timeline_steps(
        session_factory=runtime.session_factory, clock=runtime.clock, settings=runtime.settings
    )
    return outcome.as_dict()


@celery_app.task(name="deployments.run_timelines")  # type: ignore[untyped-decorator]
def run_timelines() -> dict[str, int]:
    """Each minute: task timeouts, missed schedules, forced-update reminders and deadlines,
    agent-offline alerts."""
    return run_task(_run_timelines)
