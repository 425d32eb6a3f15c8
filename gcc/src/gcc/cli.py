"""The ``gcc`` command: processes (serve, worker, beat, migrate) and operator commands."""

from __future__ import annotations

import typer

from gcc.organizations.commands import organizations_app
from gcc.releases.commands import releases_app
from servicekit.cli import ServiceProcesses, add_process_commands

app = typer.Typer(help="WrkTalk Global Control Center.", no_args_is_help=True)
app.add_typer(organizations_app, name="org")
app.add_typer(releases_app, name="release")


add_process_commands(
    app,
    ServiceProcesses(name="gcc", package="gcc", default_port=8000),
    worker_help="Run the Celery worker that delivers webhooks, classifies health and sends email.",
    beat_help="Run Celery beat: due deliveries, health classification, escalation email.",
)


if __name__ == "__main__":
    app()
