"""The FastAPI application of a service: one shape for every tier.

A tier's ``app.py`` names its title, its routers and how to open its runtime; this module adds
what every service has: the error handlers, a lifespan that refuses a database behind the code
and keeps one runtime for the process's life, the ``/healthz`` and ``/readyz`` probes, and
Prometheus's ``/metrics`` (on the API listener, or on a port of its own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.docs import add_offline_docs
from servicekit.errors import install_error_handlers
from servicekit.metrics import METRICS_PATH, Refresh, add_metrics_route, serve_metrics_port
from servicekit.openapi import Credentials, install_openapi
from servicekit.probes import add_probes
from servicekit.processes import ProcessSettings, configure_process_logging
from telemetry import TraceContextMiddleware, is_recording

S = TypeVar("S", bound=ProcessSettings)

_UNTRACED_PATHS = frozenset({METRICS_PATH, "/healthz", "/readyz"})


def request_tracing(untraced: Callable[[str], bool] | None = None) -> TelemetryConfig:
    """FastAPI's own OpenTelemetry support, while spans are recorded: a server span per
    request (named after its route, under the caller's ``traceparent``) with spans of its
    dependencies, endpoint and serialization, on the provider
    :func:`telemetry.configure_tracing` installs.

    While spans are not recorded they would be dropped yet cost a heartbeat about a third more
    CPU (``bench/tracing_overhead.py``), so FastAPI leaves every request alone and
    :class:`telemetry.TraceContextMiddleware` only makes the caller's trace current. Scrapes,
    probes and the paths ``untraced`` names (requests that belong to no release's work, such
    as a fleet's heartbeats) are never traced.
    """

    def excluded(scope: Any) -> bool:
        path = scope.get("path", "")
        return (
            not is_recording()
            or path in _UNTRACED_PATHS
            or (untraced is not None and untraced(path))
        )

    # Prometheus measures the requests; the process exports no OpenTelemetry logs.
    return {"tracing": True, "metrics": False, "logs": False, "exclude": excluded}


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
    credentials: Mapping[str, Credentials] | None = None,
    metrics_port: int | None = None,
    refresh_metrics: Refresh | None = None,
    untraced: Callable[[str], bool] | None = None,
) -> FastAPI:
    """Build a service's app; the runtime is stored on ``app.state.runtime`` while it serves.

    At start, the lifespan awaits ``ensure_database_is_current()`` (which raises for a database
    that is not at the latest migration) and then enters ``open_runtime()``; the runtime is
    closed when the app stops. ``routers`` are mounted in order, so the busiest goes first.
    The OpenAPI document declares the error model and the statuses every route shares
    (:mod:`servicekit.openapi`); ``credentials`` are those other than a bearer token, by the
    paths that take them. ``/docs`` is Swagger UI from the service's own files
    (:mod:`servicekit.docs`), so it works offline.
    ``/metrics`` is served on the app itself, or on ``metrics_port`` (every address) when
    set; ``refresh_metrics(runtime)`` sets the gauges read from the database before each scrape.
    Requests continue their caller's ``traceparent``, in a server span of their own while spans
    are recorded, except the paths ``untraced`` names (:func:`request_tracing`).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_database_is_current()
        async with AsyncExitStack() as stack:
            runtime = await stack.enter_async_context(open_runtime())
            app.state.runtime = runtime
            if metrics_port is not None:
                await stack.enter_async_context(
                    serve_metrics_port(
                        metrics_port, host="0.0.0.0", runtime=runtime, refresh=refresh_metrics
                    )
                )
            yield

    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        telemetry=request_tracing(untraced),
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    add_probes(app, engine_of=_engine_of, redis_url_of=lambda _request: redis_url)
    install_openapi(app, credentials=credentials)
    add_offline_docs(app)
    if metrics_port is None:
        add_metrics_route(app, refresh=refresh_metrics)
    app.add_middleware(TraceContextMiddleware)
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
