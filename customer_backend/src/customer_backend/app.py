"""The customer backend FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from customer_backend.migrations_runner import ensure_database_is_current
from customer_backend.runtime import open_runtime
from customer_backend.settings import Settings, get_settings
from servicekit.app import create_service_app, served_app_factory
from servicekit.runtime import SendTask
from timekeeping import Clock


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    send_task: SendTask | None = None,
) -> FastAPI:
    """Build the app; ``clock`` and ``send_task`` are injected by tests."""
    from customer_backend.agent_tasks.endpoints import router as tasks_router
    from customer_backend.config.endpoints import router as config_router
    from customer_backend.deployments.endpoints import router as deployments_router
    from customer_backend.intake.endpoints import router as intake_router

    settings = settings or get_settings()
    return create_service_app(
        title="WrkTalk customer deployment backend",
        # the busiest route (agent polls) first: requests are matched in this order
        routers=[tasks_router, intake_router, deployments_router, config_router],
        ensure_database_is_current=lambda: ensure_database_is_current(settings.database_url),
        open_runtime=lambda: open_runtime(settings, clock=clock, send_task=send_task),
        redis_url=settings.redis_url,
    )


create_served_app = served_app_factory(create_app, get_settings, service="customer-backend-api")
