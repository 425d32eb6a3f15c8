"""The long-lived clients of one service process, built once and shared by requests or tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from celery import Celery
from sqlalchemy.ext.asyncio import AsyncEngine

from objectstore import ObjectStore
from servicekit.db import SessionFactory, create_engine, create_session_factory
from servicekit.tasks import celery_sender
from timekeeping import Clock, SystemClock

SendTask = Callable[..., Any]
"""``send_task(name, *args, **kwargs)``: enqueue a Celery task by name."""


class RuntimeSettings(Protocol):
    """What opening a runtime reads from a tier's settings."""

    @property
    def database_url(self) -> str:
        """The service's PostgreSQL database."""
        ...

    @property
    def database_pool_size(self) -> int:
        """Connections kept by the process."""
        ...

    @property
    def redis_url(self) -> str:
        """The Celery broker."""
        ...


S = TypeVar("S", bound=RuntimeSettings)


@dataclass
class ServiceRuntime(Generic[S]):
    """Settings, clock, database, object store and the task sender of one process."""

    settings: S
    clock: Clock
    engine: AsyncEngine
    session_factory: SessionFactory
    object_store: ObjectStore
    send_task: SendTask


R = TypeVar("R", bound=ServiceRuntime[Any])


@asynccontextmanager
async def open_service_runtime(
    runtime_class: type[R],
    settings: RuntimeSettings,
    store: ObjectStore,
    celery: Celery,
    clock: Clock | None = None,
    send_task: SendTask | None = None,
    **clients: Any,
) -> AsyncIterator[R]:
    """Open the engine and ``store``, yield a ``runtime_class``, and close both afterwards.

    Without ``clock`` the runtime reads the system clock; without ``send_task`` it sends
    tasks through ``celery`` to the settings' broker. ``clients`` are the tier's own fields
    (already open: the caller closes them).
    """
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with store:
            yield runtime_class(
                settings=settings,
                clock=clock or SystemClock(),
                engine=engine,
                session_factory=create_session_factory(engine),
                object_store=store,
                send_task=send_task or celery_sender(celery, settings.redis_url),
                **clients,
            )
    finally:
        await engine.dispose()
