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
    from customer_backend.agent_tasks.endpoints import AGENT_SECRET
    from customer_backend.agent_tasks.endpoints import router as tasks_router
    from customer_backend.config.endpoints import router as config_router
    from customer_backend.console.admin_endpoints import router as console_admin_router
    from customer_backend.console.config_endpoints import router as console_config_router
    from customer_backend.console.history_endpoints import router as console_history_router
    from customer_backend.console.release_endpoints import router as console_release_router
    from customer_backend.console.signin_endpoints import router as console_sign_in_router
    from customer_backend.console.web import install_console
    from customer_backend.deployments.endpoints import router as deployments_router
    from customer_backend.deployments.task_endpoints import router as task_admin_router
    from customer_backend.intake.endpoints import WEBHOOK_SIGNATURE
    from customer_backend.intake.endpoints import router as intake_router
    from customer_backend.maintenance.endpoints import router as maintenance_router
    from customer_backend.monitoring.service import refresh_metrics

    settings = settings or get_settings()
    app = create_service_app(
        title="WrkTalk customer deployment backend",
        # the busiest route (agent polls) first: requests are matched in this order
        routers=[
            tasks_router,
            intake_router,
            task_admin_router,
            deployments_router,
            config_router,
            maintenance_router,
            console_sign_in_router,
            console_release_router,
            console_history_router,
            console_config_router,
            console_admin_router,
        ],
        ensure_database_is_current=lambda: ensure_database_is_current(settings.database_url),
        open_runtime=lambda: open_runtime(settings, clock=clock, send_task=send_task),
        redis_url=settings.redis_url,
        credentials={"agentSecret": AGENT_SECRET, "webhookSignature": WEBHOOK_SIGNATURE},
        metrics_port=settings.metrics_port,
        refresh_metrics=refresh_metrics,
    )
    # the Control Tower console: pages over the same services, under /console
    install_console(app)
    return app


create_served_app = served_app_factory(create_app, get_settings, service="customer-backend-api")
