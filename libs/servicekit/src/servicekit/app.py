"""The FastAPI application of a service: one shape for every tier.

A tier's ``app.py`` names its title, its routers and how to open its runtime; this module adds
what every service has: the error handlers, a lifespan that refuses a database behind the code
and keeps one runtime for the process's life, and the ``/healthz`` and ``/readyz`` probes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.errors import install_error_handlers
from servicekit.probes import add_probes
from servicekit.processes import ProcessSettings, configure_process_logging

S = TypeVar("S", bound=ProcessSettings)


class HasEngine(Protocol):
    """A runtime whose database the readiness probe checks."""

    engine: AsyncEngine


def create_service_app(
    *,
    title: str,
    routers: Sequence[APIRouter],
    ensure_database_is_current: Callable[[], Awaitable[None]],
    open_runtime: Callable[[], AbstractAsyncContextManager[HasEngine]],
    redis_url: str,
    version: str = "0.1.0",
) -> FastAPI:
    """Build a service's app; the runtime is stored on ``app.state.runtime`` while it serves.

    At start, the lifespan awaits ``ensure_database_is_current()`` (which raises for a database
    that is not at the latest migration) and then enters ``open_runtime()``; the runtime is
    closed when the app stops. ``routers`` are mounted in order, so the busiest goes first.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_database_is_current()
        async with open_runtime() as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title=title, version=version, lifespan=lifespan)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    add_probes(app, engine_of=_engine_of, redis_url_of=lambda _request: redis_url)
    return app


def _engine_of(request: Any) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.runtime.engine
    return engine


def served_app_factory(
    create_app: Callable[[S], FastAPI], get_settings: Callable[[], S], *, service: str
) -> Callable[[], FastAPI]:
    """The factory ``serve`` names to uvicorn: logging configured, then ``create_app(settings)``.

    With ``--workers N`` uvicorn starts each server in a fresh process that only imports this
    factory; nothing of the command's logging configuration survives there. Without
    configuring it again, the level and format would be structlog's defaults: every event,
    whatever the configured level.
    """

    def create_served_app() -> FastAPI:
        settings = get_settings()
        configure_process_logging(settings, service)
        return create_app(settings)

    return create_served_app
