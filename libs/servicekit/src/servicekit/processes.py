"""Start a service's processes: the API server, the Celery worker and beat."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from celery import Celery

from logconfig import configure_logging
from servicekit.migrations import DatabaseNotMigrated
from servicekit.worker import queue_names


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


def configure_process_logging(settings: ProcessSettings, service: str) -> None:
    """Configure the process's logging from ``settings``, naming ``service`` in each event."""
    configure_logging(level=settings.log_level, json=settings.log_json, service=service)


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


def run_worker(
    celery: Celery, *, log_level: str, concurrency: int, queues: Sequence[str] = ()
) -> None:
    """Run a Celery worker that leaves the logging configuration alone (see
    :func:`worker_arguments` for the queues it consumes)."""
    celery.conf.worker_hijack_root_logger = False
    celery.worker_main(
        worker_arguments(celery, log_level=log_level, concurrency=concurrency, queues=queues)
    )


def run_beat(celery: Celery, *, log_level: str) -> None:
    """Run Celery beat."""
    celery.conf.worker_hijack_root_logger = False
    celery.start(["beat", "--loglevel", log_level])
