"""The process commands every service has: ``serve``, ``worker``, ``beat`` and ``migrate``.

A tier's ``cli.py`` names itself in a :class:`ServiceProcesses` and adds its own operator
commands; the process commands, their options and their logging are the same in
every tier.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from typing import Any

import typer
from celery import Celery

from servicekit import processes
from servicekit.migrations import ServiceMigrations
from servicekit.processes import configure_process_logging


@dataclass(frozen=True)
class ServiceProcesses:
    """How a tier runs, found by the tier package's common layout.

    ``name`` is the command (``gcc``); its processes log as ``<name>-api``, ``<name>-worker``,
    ... From ``package`` come ``settings.get_settings``, ``app.create_served_app`` (which
    uvicorn calls in each server process), ``worker.configure_celery`` (imported only by
    ``worker`` and ``beat``: it imports every task module), ``migrations_runner.MIGRATIONS``
    and ``runtime.build_store`` (the tier's object store, not yet open). Each is imported
    when a command needs it, so ``--help`` and the operator commands stay quick.
    """

    name: str
    package: str
    default_port: int

    def attribute(self, module: str, name: str) -> Any:
        """``name`` from the tier's ``module`` (``settings``, ``worker``, ...)."""
        return getattr(importlib.import_module(f"{self.package}.{module}"), name)

    @property
    def served_app(self) -> str:
        """The app factory uvicorn imports in each server process."""
        return f"{self.package}.app:create_served_app"

    @property
    def migrations(self) -> ServiceMigrations:
        """The tier's migrations."""
        migrations: ServiceMigrations = self.attribute("migrations_runner", "MIGRATIONS")
        return migrations

    def configure(self, process: str) -> Any:
        """The settings, once logging is configured for the ``process`` (``api``, ...)."""
        settings = self.attribute("settings", "get_settings")()
        configure_process_logging(settings, f"{self.name}-{process}")
        return settings

    def configured_celery(self, settings: Any) -> Celery:
        """The tier's Celery app, configured from ``settings``."""
        celery: Celery = self.attribute("worker", "configure_celery")(settings)
        return celery


def add_process_commands(
    app: typer.Typer, service: ServiceProcesses, *, worker_help: str, beat_help: str
) -> None:
    """Add ``serve``, ``worker``, ``beat`` and ``migrate`` to ``app``."""

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(service.default_port, help="Port to listen on."),
        workers: int = typer.Option(1, help="Server processes."),
    ) -> None:
        """Serve the HTTP API (refuses a database that is not at the latest migration)."""
        settings = service.configure("api")
        code = processes.serve_api(
            service.served_app,
            host=host,
            port=port,
            workers=workers,
            ensure_migrated=lambda: service.migrations.ensure_database_is_current(
                settings.database_url
            ),
            command=f"{service.name} serve",
        )
        raise typer.Exit(code)

    @app.command(help=worker_help)
    def worker(
        concurrency: int = typer.Option(1, help="Worker processes."),
        queues: str = typer.Option(
            "",
            help=(
                "Comma-separated queues to consume (default: all of them, the scheduling "
                "queue included); a worker of its own for `schedule` is one use."
            ),
        ),
    ) -> None:
        settings = service.configure("worker")
        if settings.worker_metrics_port is not None:
            processes.serve_worker_metrics(settings.worker_metrics_port, concurrency=concurrency)
        processes.run_worker(
            service.configured_celery(settings),
            log_level=settings.log_level,
            concurrency=concurrency,
            queues=[name.strip() for name in queues.split(",") if name.strip()],
        )

    @app.command(help=beat_help)
    def beat() -> None:
        settings = service.configure("beat")
        processes.run_beat(service.configured_celery(settings), log_level=settings.log_level)

    @app.command()
    def migrate() -> None:
        """Apply database migrations and create the bucket when it does not exist."""
        settings = service.configure("migrate")
        service.migrations.upgrade_to_head(settings.database_url)
        asyncio.run(_ensure_bucket(service.attribute("runtime", "build_store")(settings)))
        typer.echo(f"{service.name} migrate: database at the latest migration, bucket ready")


async def _ensure_bucket(store: Any) -> None:
    async with store:
        await store.ensure_bucket()
