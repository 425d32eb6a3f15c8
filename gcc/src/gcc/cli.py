"""The ``gcc`` command: processes (serve, worker, beat, migrate) and operator commands."""

from __future__ import annotations

import asyncio

import typer

from gcc.organizations.commands import organizations_app
from gcc.releases.commands import releases_app
from gcc.settings import get_settings
from logconfig import configure_logging
from servicekit import processes

app = typer.Typer(help="WrkTalk Global Control Center.", no_args_is_help=True)
app.add_typer(organizations_app, name="org")
app.add_typer(releases_app, name="release")


def _configure(service: str) -> None:
    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.log_json, service=service)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Server processes."),
) -> None:
    """Serve the HTTP API (refuses a database that is not at the latest migration)."""
    from gcc.app import API_SERVICE_NAME
    from gcc.migrations_runner import ensure_database_is_current

    _configure(API_SERVICE_NAME)
    settings = get_settings()
    code = processes.serve_api(
        "gcc.app:create_served_app",
        host=host,
        port=port,
        workers=workers,
        ensure_migrated=lambda: ensure_database_is_current(settings.database_url),
        command="gcc serve",
    )
    raise typer.Exit(code)


@app.command()
def worker(concurrency: int = typer.Option(1, help="Worker processes.")) -> None:
    """Run the Celery worker that delivers webhooks, classifies health and sends email."""
    from gcc.worker import configure_celery

    _configure("gcc-worker")
    settings = get_settings()
    processes.run_worker(
        configure_celery(settings), log_level=settings.log_level, concurrency=concurrency
    )


@app.command()
def beat() -> None:
    """Run Celery beat: due deliveries, health classification, escalation email."""
    from gcc.worker import configure_celery

    _configure("gcc-beat")
    settings = get_settings()
    processes.run_beat(configure_celery(settings), log_level=settings.log_level)


@app.command()
def migrate() -> None:
    """Apply database migrations and create the artifact bucket when it does not exist."""
    from gcc.migrations_runner import upgrade_to_head
    from gcc.runtime import build_store

    _configure("gcc-migrate")
    settings = get_settings()
    upgrade_to_head(settings.database_url)

    async def ensure_bucket() -> None:
        async with build_store(settings) as store:
            await store.ensure_bucket()

    asyncio.run(ensure_bucket())
    typer.echo("gcc migrate: database at the latest migration, bucket ready")


if __name__ == "__main__":
    app()
