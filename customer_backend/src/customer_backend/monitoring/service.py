"""Set the backend's database gauges before a scrape (:mod:`customer_backend.metrics`).

Every task state is set, to zero when no task has it, so a series does not vanish when its
last task changes state.
"""

from __future__ import annotations

from contracts import AgentTaskStatus
from customer_backend import metrics
from customer_backend.monitoring import repository
from customer_backend.runtime import Runtime
from servicekit.db import session_scope


async def refresh_metrics(runtime: Runtime) -> None:
    """Read the outbox, the task queue and the agent's last poll into the gauges."""
    now = runtime.clock.now()
    async with session_scope(runtime.session_factory) as session:
        outbox = await repository.outbox(session)
        tasks = await repository.tasks_by_status(session)
        last_poll_at = await repository.agent_last_poll_at(session)
    metrics.OUTBOX_DEPTH.set(outbox.depth)
    oldest = outbox.oldest_created_at
    metrics.OUTBOX_OLDEST_AGE.set(max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
    for status in {*map(str, AgentTaskStatus), *tasks}:
        metrics.AGENT_TASKS.labels(status).set(tasks.get(status, 0))
    metrics.AGENT_LAST_SEEN.set(last_poll_at.timestamp() if last_poll_at else 0)
