"""Live deployment logs as Server-Sent Events.

The stream sends the lines already received, then polls for new ones until every task it
follows has ended, sends the last lines and an ``end`` event, and closes. Each line event's
``id`` is the line's id, so a client that reconnects with ``Last-Event-ID`` resumes after it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

from contracts import (
    AgentTaskStatus,
    DeploymentLogEnd,
    DeploymentLogLineView,
    LocalDeploymentStatus,
)
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments import repository, views
from customer_backend.deployments.service import StreamTarget
from servicekit.db import SessionFactory, session_scope

POLL_INTERVAL_SECONDS = 0.25
"""How often the stream looks for new lines."""
KEEPALIVE_EVERY_POLLS = 60
"""A comment goes out after this many empty polls, so proxies keep the connection open."""
BATCH_SIZE = 500
"""Most lines read per poll."""


def line_event(line: DeploymentLogLineView) -> str:
    """One SSE event of a log line."""
    return f"id: {line.id}\ndata: {line.model_dump_json()}\n\n"


def end_event(end: DeploymentLogEnd) -> str:
    """The final SSE event."""
    return f"event: end\ndata: {end.model_dump_json()}\n\n"


async def stream_logs(
    session_factory: SessionFactory,
    *,
    target: StreamTarget,
    after_id: int = 0,
    poll_interval: float = POLL_INTERVAL_SECONDS,
    format_line: Callable[[DeploymentLogLineView], str] = line_event,
    format_end: Callable[[DeploymentLogEnd], str] = end_event,
) -> AsyncIterator[str]:
    """Yield SSE text: lines after ``after_id`` as they arrive, then ``end``.

    Each poll uses a short session of its own, so an open stream holds no connection. The
    events are the API's JSON ones unless ``format_line`` and ``format_end`` write others (the
    console's pane takes HTML fragments).
    """
    idle_polls = 0
    while True:
        lines, tasks, deployment_status = await _poll(session_factory, target, after_id)
        for line in lines:
            yield format_line(line)
            after_id = line.id
        if len(lines) == BATCH_SIZE:
            continue
        if all(
            AgentTaskStatus(task.status) in agent_queue.TERMINAL_TASK_STATUSES for task in tasks
        ):
            # Lines sent before the final status was stored are read now, after it.
            while lines := (await _poll(session_factory, target, after_id))[0]:
                for line in lines:
                    yield format_line(line)
                    after_id = line.id
            latest = tasks[-1] if tasks else None
            yield format_end(
                DeploymentLogEnd(
                    task_id=latest.id if latest else None,
                    task_status=AgentTaskStatus(latest.status) if latest else None,
                    deployment_status=deployment_status,
                )
            )
            return
        idle_polls = 0 if lines else idle_polls + 1
        if idle_polls and idle_polls % KEEPALIVE_EVERY_POLLS == 0:
            yield ": keepalive\n\n"
        await asyncio.sleep(poll_interval)


async def _poll(
    session_factory: SessionFactory, target: StreamTarget, after_id: int
) -> tuple[list[DeploymentLogLineView], list[AgentTask], LocalDeploymentStatus | None]:
    async with session_scope(session_factory) as session:
        deployment_status = None
        tasks: list[AgentTask] = []
        if target.deployment_id is not None:
            deployment = await repository.get_deployment(session, target.deployment_id)
            if deployment is not None:
                deployment_status = LocalDeploymentStatus(deployment.status)
            tasks = await agent_queue.tasks_of_deployment(session, target.deployment_id)
        elif target.task_id is not None:
            task = await agent_queue.get_task(session, target.task_id)
            tasks = [task] if task is not None else []
        task_ids: list[uuid.UUID] = [task.id for task in tasks]
        lines = await agent_queue.log_lines_after(
            session, task_ids, after_id=after_id, limit=BATCH_SIZE
        )
        return [views.log_line_view(line) for line in lines], tasks, deployment_status
