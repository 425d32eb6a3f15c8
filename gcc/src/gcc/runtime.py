"""The long-lived clients of one GCC process, built once and shared by requests or tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gcc.db import SessionFactory, create_engine, create_session_factory
from gcc.health.heartbeats import HeartbeatRecorder
from gcc.settings import Settings
from objectstore import ObjectStore, S3ObjectStore
from servicekit.tasks import celery_sender
from timekeeping import Clock, SystemClock


@dataclass
class Runtime:
    """Settings, clock, database, object store, the heartbeat batch writer and the task
    sender of one process."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    session_factory: SessionFactory
    object_store: ObjectStore
    heartbeat_recorder: HeartbeatRecorder
    send_task: Any = field(default=None)


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, clock: Clock | None = None, send_task: Any = None
) -> AsyncIterator[Runtime]:
    """Build the runtime, yield it, and close every client afterwards."""
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    store = S3ObjectStore(
        bucket=settings.bucket_name,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
    )
    try:
        async with store:
            if send_task is None:
                from gcc.worker import celery_app

                send_task = celery_sender(celery_app, settings.redis_url)

            yield Runtime(
                settings=settings,
                clock=clock or SystemClock(),
                engine=engine,
                session_factory=create_session_factory(engine),
                object_store=store,
                # one per process: it batches the heartbeats that arrive together
                heartbeat_recorder=HeartbeatRecorder(engine),
                send_task=send_task,
            )
    finally:
        await engine.dispose()
