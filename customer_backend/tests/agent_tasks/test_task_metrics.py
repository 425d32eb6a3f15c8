"""The agent-facing metrics on the backend's ``/metrics``: tasks by state, the claim latency
of each poll that takes a task, and when the agent last polled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from testsupport.metrics import scrape
from timekeeping import ManualClock

POLL = "/internal/agent/tasks"
TASKS, LAST_SEEN = (
    "wrktalk_backend_agent_tasks",
    "wrktalk_backend_agent_last_seen_timestamp_seconds",
)
LATENCY = "wrktalk_backend_task_claim_latency_seconds"


async def test_a_claim_counts_its_latency_moves_the_task_and_marks_the_agent_seen(
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    release_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    release = await release_factory()
    due_at = gcc_clock.now()
    await task_factory(release, execute_after=due_at)
    await task_factory(release, execute_after=due_at + timedelta(hours=1), link_deployment=False)
    before = await scrape(backend_client)
    assert before.value(TASKS, status="pending") == 2
    assert before.value(TASKS, status="inProgress") == 0
    assert before.value(LAST_SEEN) == 0
    gcc_clock.advance(timedelta(seconds=45))

    claimed = await backend_client.get(POLL, headers=agent_headers)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["task"] is not None
    nothing_due = await backend_client.get(POLL, headers=agent_headers)
    assert nothing_due.json() == {"task": None}

    after = await scrape(backend_client)
    assert after.moved(before, f"{LATENCY}_count") == 1
    assert after.moved(before, f"{LATENCY}_sum") == 45
    assert after.moved(before, f"{LATENCY}_bucket", le="60.0") == 1
    assert after.moved(before, f"{LATENCY}_bucket", le="30.0") == 0
    assert after.value(TASKS, status="pending") == 1
    assert after.value(TASKS, status="inProgress") == 1
    assert after.value(LAST_SEEN) == gcc_clock.now().timestamp()
