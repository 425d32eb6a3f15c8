"""The long-lived clients of one customer backend process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentTaskType
from customer_backend.agent_tasks.completion import TaskEnd, TaskEndHandler
from customer_backend.celery_app import celery_app
from customer_backend.deployments import outcomes
from customer_backend.maintenance import service as maintenance
from customer_backend.settings import Settings
from objectstore import ObjectStore, build_object_store
from servicekit.runtime import SendTask, ServiceRuntime, open_service_runtime
from servicekit.tasks import celery_sender
from timekeeping import Clock


@dataclass
class Runtime(ServiceRuntime[Settings]):
    """Settings, clock, database, bucket, the task sender and the GCC client of one process,
    and what the end of an agent task means for its deployment."""

    gcc: httpx.AsyncClient
    on_task_end: TaskEndHandler


async def record_task_end(
    session: AsyncSession,
    *,
    end: TaskEnd,
    clock: Clock,
    settings: Settings,
    send_task: SendTask | None,
) -> None:
    """What a task's end means, by the task's type: a maintenance switch is the maintenance
    domain's; a deploy or a rollback the deployments domain's."""
    handler: TaskEndHandler = (
        maintenance.record_task_end
        if end.task.type == AgentTaskType.MAINTENANCE
        else outcomes.record_task_end
    )
    await handler(session, end=end, clock=clock, settings=settings, send_task=send_task)


def build_store(settings: Settings) -> ObjectStore:
    """The installation's bucket, as the settings describe it (not yet open)."""
    return build_object_store(
        settings.bucket_provider,
        bucket=settings.bucket_name,
        endpoint_url=settings.bucket_endpoint,
        region=settings.bucket_region,
        root=settings.bucket_root,
        max_attempts=settings.bucket_max_attempts,
    )


def gcc_client(settings: Settings, *, timeout: float = 30.0) -> httpx.AsyncClient:
    """An HTTP client for GCC that presents this organization's API key."""
    return httpx.AsyncClient(
        base_url=settings.gcc_endpoint,
        headers={"Authorization": f"Bearer {settings.gcc_api_key.get_secret_value()}"},
        timeout=timeout,
    )


def task_sender(settings: Settings) -> SendTask:
    """Send tasks by name through this tier's Celery app, to the configured broker."""
    return celery_sender(celery_app, settings.redis_url)


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, clock: Clock | None = None, send_task: SendTask | None = None
) -> AsyncIterator[Runtime]:
    """Build the runtime, yield it, and close every client afterwards."""
    store = build_store(settings)
    async with gcc_client(settings) as gcc:
        opening = open_service_runtime(
            Runtime,
            settings,
            store,
            celery_app,
            clock,
            send_task,
            gcc=gcc,
            # the deployments and maintenance domains sit above the task queue: the queue is
            # handed their rules
            on_task_end=record_task_end,
        )
        async with opening as runtime:
            yield runtime
