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
    from gcc.audit.endpoints import router as audit_router
    from gcc.console.routers import console_routers
    from gcc.console.web import install_console
    from gcc.delivery.endpoints import router as delivery_router
    from gcc.escalations.endpoints import router as escalations_router
    from gcc.health.endpoints import router as health_router
    from gcc.monitoring.service import refresh_metrics
    from gcc.organizations.endpoints import router as organizations_router
    from gcc.releases.endpoints import router as releases_router
    from gcc.rollouts.endpoints import router as rollouts_router

    settings = settings or get_settings()
    app = create_service_app(
        title="WrkTalk Global Control Center",
        # the busiest route (heartbeats) first: requests are matched in this order
        routers=[
            health_router,
            artifacts_router,
            releases_router,
            rollouts_router,
            organizations_router,
            delivery_router,
            escalations_router,
            audit_router,
        ],
        ensure_database_is_current=lambda: ensure_database_is_current(settings.database_url),
        open_runtime=lambda: open_runtime(settings, clock=clock, send_task=send_task),
        redis_url=settings.redis_url,
        metrics_port=settings.metrics_port,
        refresh_metrics=refresh_metrics,
        # thousands a second, and part of no release's trace
        untraced=lambda path: path.endswith("/heartbeat"),
    )
    install_console(app, console_routers())
    return app


create_served_app = served_app_factory(create_app, get_settings, service="gcc-api")
