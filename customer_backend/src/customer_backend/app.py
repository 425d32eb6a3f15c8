"""The customer backend FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from customer_backend.errors import install_error_handlers
from customer_backend.migrations_runner import ensure_database_is_current
from customer_backend.runtime import SendTask, open_runtime
from customer_backend.settings import Settings, get_settings
from servicekit.probes import add_probes
from timekeeping import Clock


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    send_task: SendTask | None = None,
) -> FastAPI:
    """Build the app; ``clock`` and ``send_task`` are injected by tests."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_database_is_current(settings.database_url)
        async with open_runtime(settings, clock=clock, send_task=send_task) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title="WrkTalk customer deployment backend", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    _mount_routers(app)
    add_probes(
        app,
        engine_of=lambda request: request.app.state.runtime.engine,
        redis_url_of=lambda request: settings.redis_url,
    )
    return app


def _mount_routers(app: FastAPI) -> None:
    from customer_backend.config.endpoints import router as config_router
    from customer_backend.deployments.endpoints import router as deployments_router
    from customer_backend.intake.endpoints import router as intake_router
    from customer_backend.tasks.endpoints import router as tasks_router

    # Requests are matched against the routes in order: the busiest route (agent polls) first.
    for router in (tasks_router, intake_router, deployments_router, config_router):
        app.include_router(router)
