"""The GCC FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from gcc.errors import install_error_handlers
from gcc.migrations_runner import ensure_database_is_current
from gcc.runtime import open_runtime
from gcc.settings import Settings, get_settings
from servicekit.probes import add_probes
from timekeeping import Clock


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, send_task: Any = None
) -> FastAPI:
    """Build the app; ``clock`` and ``send_task`` are injected by tests."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_database_is_current(settings.database_url)
        async with open_runtime(settings, clock=clock, send_task=send_task) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="WrkTalk Global Control Center",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    _mount_routers(app)

    add_probes(
        app,
        engine_of=lambda request: request.app.state.runtime.engine,
        redis_url_of=lambda request: settings.redis_url,
    )
    return app


def _mount_routers(app: FastAPI) -> None:
    from gcc.artifacts.endpoints import router as artifacts_router
    from gcc.delivery.endpoints import router as delivery_router
    from gcc.escalations.endpoints import router as escalations_router
    from gcc.health.endpoints import router as health_router
    from gcc.organizations.endpoints import router as organizations_router
    from gcc.releases.endpoints import router as releases_router

    # Requests are matched against the routes in order: the busiest route (heartbeats) first.
    for router in (
        health_router,
        artifacts_router,
        releases_router,
        organizations_router,
        delivery_router,
        escalations_router,
    ):
        app.include_router(router)
