"""Prometheus metrics of a service's processes: the ``/metrics`` route and its own listener.

The metric objects belong to each tier (``gcc.metrics``, ``customer_backend.metrics``); this
module only exposes them. Counters and histograms move where the work happens; the gauges that
describe the database (backlogs, states) are read once per scrape by the tier's ``refresh``
coroutine, so no request pays for them.

Where uvicorn or Celery run several processes, each writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and any of them answers a
scrape with the sum over all. The variable must be set before the process imports
``prometheus_client``: :func:`ensure_multiprocess_directory` sets it for the processes a
command is about to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Final

import uvicorn
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROCESS_DIRECTORY_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH: Final = "/metrics"

Refresh = Callable[[Any], Awaitable[None]]
"""Sets the scrape-time gauges from a runtime (the one on ``app.state.runtime``)."""


def is_multiprocess() -> bool:
    """Whether this process writes its samples to the multiprocess directory."""
    return values.ValueClass is not values.MutexValue


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: every process's files in multiprocess mode, else this process's."""
    if is_multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def render_metrics() -> bytes:
    """The exposition text of :func:`scrape_registry`."""
    return generate_latest(scrape_registry())


def ensure_multiprocess_directory() -> str:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory unless it is set; return it.

    Call it before starting processes that share one scrape (uvicorn's workers); they inherit
    the variable and write their samples there.
    """
    directory = os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE)
    if not directory:
        directory = tempfile.mkdtemp(prefix="wrktalk-metrics-")
        os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = directory
    return directory


def mark_process_dead(pid: int) -> None:
    """Drop the live-only gauges of a process that ended (its counters stay in the sum)."""
    if is_multiprocess():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


async def metrics_response(runtime: Any, refresh: Refresh | None) -> Response:
    """Refresh the scrape-time gauges from ``runtime`` and answer with the exposition text."""
    if refresh is not None and runtime is not None:
        await refresh(runtime)
    return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)


def add_metrics_route(app: FastAPI, *, refresh: Refresh | None) -> None:
    """Serve ``/metrics`` on ``app`` itself, without authentication."""

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return await metrics_response(getattr(request.app.state, "runtime", None), refresh)


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the signals to the API server it runs beside."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_metrics_port(
    port: int, *, host: str, runtime: Any, refresh: Refresh | None
) -> AsyncIterator[None]:
    """Serve ``/metrics`` on a listener of its own while the context is open.

    The socket is bound with ``SO_REUSEPORT``: every uvicorn worker of the service listens on
    the port, the kernel hands each scrape to one of them, and in multiprocess mode each
    answers with the sum over all workers.
    """
    metrics_app = FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    @metrics_app.get(METRICS_PATH)
    async def metrics() -> Response:
        return await metrics_response(runtime, refresh)

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    config = uvicorn.Config(
        metrics_app, log_config=None, access_log=False, lifespan="off", log_level="warning"
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield
    finally:
        server.should_exit = True
        await serving
        listener.close()


def start_worker_metrics_server(port: int, *, host: str = "0.0.0.0") -> None:
    """Serve a Celery worker's ``/metrics`` from a thread of its main process.

    The worker's pool processes are forked from it; in multiprocess mode their samples reach
    this listener through the shared directory.
    """
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=scrape_registry())
