"""The long-lived clients of one GCC process, built once and shared by requests or tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gcc.celery_app import celery_app
from gcc.settings import Settings
from objectstore import ObjectStore, build_object_store
from servicekit.db import SessionFactory, create_engine, create_session_factory
from servicekit.tasks import celery_sender
from timekeeping import Clock, SystemClock


@dataclass
class Runtime:
    """Settings, clock, database, object store and the task sender of one process."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    session_factory: SessionFactory
    object_store: ObjectStore
    send_task: Any = field(default=None)


def build_store(settings: Settings) -> ObjectStore:
    """The artifact bucket, as the settings describe it (not yet open)."""
    return build_object_store(
        "s3",
        bucket=settings.bucket_name,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
    )


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, clock: Clock | None = None, send_task: Any = None
) -> AsyncIterator[Runtime]:
    """Build the runtime, yield it, and close every client afterwards."""
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with build_store(settings) as store:
            if send_task is None:
                send_task = celery_sender(celery_app, settings.redis_url)
            yield Runtime(
                settings=settings,
                clock=clock or SystemClock(),
                engine=engine,
                session_factory=create_session_factory(engine),
                object_store=store,
                send_task=send_task,
            )
    finally:
        await engine.dispose()
