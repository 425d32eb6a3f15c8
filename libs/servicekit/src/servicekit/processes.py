"""Start a service's processes: the API server, the Celery worker and beat."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final, Protocol

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from logconfig import configure_logging
from servicekit import metrics
from servicekit.migrations import DatabaseNotMigrated
from servicekit.worker import queue_names
from telemetry import configure_tracing


class ProcessSettings(Protocol):
    """What the process commands read from a tier's settings."""

    @property
    def database_url(self) -> str:
        """The service's PostgreSQL database."""
        ...

    @property
    def log_level(self) -> str:
        """The level of the process's log."""
        ...

    @property
    def log_json(self) -> bool:
        """JSON lines (or a console rendering)."""
        ...

    @property
    def otlp_endpoint(self) -> str | None:
        """Where trace spans are exported (None: nowhere)."""
        ...


def configure_process_logging(settings: ProcessSettings, service: str) -> None:
    """Configure the process's logging and tracing from ``settings``, naming ``service`` in
    each event and span (spans are exported only with ``otlp_endpoint``)."""
    configure_logging(level=settings.log_level, json=settings.log_json, service=service)
    configure_tracing(service=service, endpoint=settings.otlp_endpoint)


def serve_api(
    app_factory: str,
    *,
    host: str,
    port: int,
    workers: int,
    ensure_migrated: Callable[[], Coroutine[Any, Any, None]],
    command: str,
) -> int:
    """Serve ``app_factory`` (``module:function``) with uvicorn after checking the schema.

    Returns a non-zero exit code, with a message on stderr, when the database is behind.
    """
    import uvicorn

    if workers > 1:
        # uvicorn starts each worker as a fresh interpreter, which inherits the variable and
        # writes its samples where every worker's scrape reads them.
        metrics.ensure_multiprocess_directory()
    try:
        asyncio.run(ensure_migrated())
    except DatabaseNotMigrated as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app_factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        # a worker process imports the whole app before answering its health check
        timeout_worker_healthcheck=60,
    )
    return 0


def worker_arguments(
    celery: Celery, *, log_level: str, concurrency: int, queues: Sequence[str] = ()
) -> list[str]:
    """The Celery ``worker`` command line: consuming ``queues``, or every queue ``celery``
    declares (the default queue and the scheduling queue) when none are named."""
    consumed = list(queues) or queue_names(celery)
    return [
        "worker",
        "--loglevel",
        log_level,
        "--concurrency",
        str(concurrency),
        "--queues",
        ",".join(consumed),
    ]


def _forget_pool_process(pid: int | None = None, **_: object) -> None:
    """Drop a pool process's live gauges from the multiprocess directory as it exits."""
    metrics.mark_process_dead(pid or os.getpid())


YOUNG_COLLECTION_THRESHOLD: Final = 10_000
"""Objects allocated (net of those freed) between two collections of the youngest generation;
Python's default is 700."""


def settle_heap(**_: object) -> None:
    """Leave what a pool process starts with out of garbage collection, and collect the
    youngest objects less often.

    A pool process starts with nearly 300,000 objects (modules, the Celery app, settings) that
    live as long as it does, and each full collection walked them all: a third of the
    delivery pump's CPU went to the collector. After one collection those objects are frozen
    (``gc.freeze``: kept, never examined again). The youngest generation is collected after
    :data:`YOUNG_COLLECTION_THRESHOLD` new objects instead of 700: nearly all of a request's
    objects are freed by reference counting before then, so each collection finds little,
    and fewer of them push short-lived objects into the older generations.
    """
    gc.collect()
    gc.freeze()
    _young, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)


def run_worker(
    celery: Celery, *, log_level: str, concurrency: int, queues: Sequence[str] = ()
) -> None:
    """Run a Celery worker that leaves the logging configuration alone (see
    :func:`worker_arguments` for the queues it consumes)."""
    celery.conf.worker_hijack_root_logger = False
    worker_process_init.connect(settle_heap, weak=False)
    worker_process_shutdown.connect(_forget_pool_process, weak=False)
    celery.worker_main(
        worker_arguments(celery, log_level=log_level, concurrency=concurrency, queues=queues)
    )


def serve_worker_metrics(port: int, *, concurrency: int) -> None:
    """Serve the worker's ``/metrics`` on ``port`` from its main process.

    Tasks run in the prefork pool's child processes (even with a concurrency of one), so
    their samples must go through prometheus-client's multiprocess directory, chosen before
    ``prometheus_client`` is first imported: the command starts itself again with the variable
    set, once, with the interpreter's own arguments (``-m gcc.cli`` stays ``-m gcc.cli``).
    """
    del concurrency  # every pool size forks
    if not metrics.is_multiprocess():
        metrics.ensure_multiprocess_directory()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606
    metrics.start_worker_metrics_server(port)


def run_beat(celery: Celery, *, log_level: str) -> None:
    """Run Celery beat."""
    celery.conf.worker_hijack_root_logger = False
    celery.start(["beat", "--loglevel", log_level])
