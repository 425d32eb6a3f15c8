"""The long-lived clients of one customer backend process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_backend.celery_app import celery_app
from customer_backend.settings import Settings
from objectstore import ObjectStore, build_object_store
from servicekit.db import SessionFactory, create_engine, create_session_factory
from servicekit.tasks import celery_sender
from timekeeping import Clock, SystemClock

SendTask = Callable[..., Any]


@dataclass
class Runtime:
    """Settings, clock, database, bucket, the GCC client and the task sender of one process."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    session_factory: SessionFactory
    object_store: ObjectStore
    gcc: httpx.AsyncClient
    send_task: SendTask


def build_store(settings: Settings) -> ObjectStore:
    """The installation's bucket, as the settings describe it (not yet open)."""
    return build_object_store(
        settings.bucket_provider,
        bucket=settings.bucket_name,
        endpoint_url=settings.bucket_endpoint,
        region=settings.bucket_region,
        root=settings.bucket_root,
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
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with build_store(settings) as store, gcc_client(settings) as gcc:
            yield Runtime(
                settings=settings,
                clock=clock or SystemClock(),
                engine=engine,
                session_factory=create_session_factory(engine),
                object_store=store,
                gcc=gcc,
                send_task=send_task or task_sender(settings),
            )
    finally:
        await engine.dispose()
