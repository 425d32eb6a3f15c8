"""The GCC FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from gcc.migrations_runner import ensure_database_is_current
from gcc.runtime import open_runtime
from gcc.settings import Settings, get_settings
from servicekit.app import create_service_app, served_app_factory
from timekeeping import Clock


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, send_task: Any = None
) -> FastAPI:
    """Build the app; ``clock`` and ``send_task`` are injected by tests."""
    from gcc.artifacts.endpoints import router as artifacts_router
    from gcc.delivery.endpoints import router as delivery_router
    from gcc.escalations.endpoints import router as escalations_router
    from gcc.health.endpoints import router as health_router
    from gcc.organizations.endpoints import router as organizations_router
    from gcc.releases.endpoints import router as releases_router

    settings = settings or get_settings()
    return create_service_app(
        title="WrkTalk Global Control Center",
        # the busiest route (heartbeats) first: requests are matched in this order
        routers=[
            health_router,
            artifacts_router,
            releases_router,
            organizations_router,
            delivery_router,
            escalations_router,
        ],
        ensure_database_is_current=lambda: ensure_database_is_current(settings.database_url),
        open_runtime=lambda: open_runtime(settings, clock=clock, send_task=send_task),
        redis_url=settings.redis_url,
    )


create_served_app = served_app_factory(create_app, get_settings, service="gcc-api")
