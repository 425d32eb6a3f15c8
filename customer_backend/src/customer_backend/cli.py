"""The ``customer-backend`` command: processes and admin management."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.settings import get_settings
from servicekit.cli import ServiceProcesses, add_process_commands
from servicekit.commands import run_in_session
from servicekit.files import write_private_file
from timekeeping import SystemClock

T = TypeVar("T")

app = typer.Typer(help="WrkTalk customer deployment backend.", no_args_is_help=True)
admin_app = typer.Typer(help="Admins who receive email and use the Control Tower.")
app.add_typer(admin_app, name="admin")


def _in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return run_in_session(get_settings().database_url, work)


@app.command()
def config() -> None:
    """Print the effective configuration (secrets masked)."""
    typer.echo(get_settings().model_dump_json(indent=2))


add_process_commands(
    app,
    ServiceProcesses(name="customer-backend", package="customer_backend", default_port=3000),
    worker_help="Run the Celery worker: downloads, email, reports to GCC, timelines.",
    beat_help="Run Celery beat: GCC poll and heartbeat, timelines, email and outbox retries.",
)


@admin_app.command("add")
def admin_add(
    email: str = typer.Option(..., help="Address that receives deployment email."),
    name: str = typer.Option(..., help="The admin's name."),
    role: str = typer.Option(
        "admin",
        help="admin, or support: the vendor's team, the only Control Tower users who may "
        "change the essential configuration.",
    ),
    token_file: Path | None = typer.Option(
        None, help="Also write the token to this file (mode 0600), for a setup script."
    ),
    if_absent: bool = typer.Option(
        False,
        help="When an admin with this email exists, change nothing and exit 0 (with "
        "--token-file, only if the file is there).",
    ),
) -> None:
    """Create an admin; the last line printed is the Control Tower token, shown only now."""
    from customer_backend.admins.service import create_admin, find_admin

    if if_absent and _in_session(lambda session: find_admin(session, email=email)) is not None:
        if token_file is not None and not token_file.is_file():
            typer.echo(
                f"error: admin {email} exists, but {token_file} is missing and the token is "
                "not stored anywhere else: deactivate the admin and add one again",
                err=True,
            )
            raise typer.Exit(code=1)
        typer.echo(f"admin {email} exists already; nothing changed")
        return
    admin, token = _in_session(
        lambda session: create_admin(
            session, clock=SystemClock(), email=email, name=name, role=role
        )
    )
    if token_file is not None:
        write_private_file(token_file, token)
    typer.echo(f"created admin {admin.email} ({admin.role})")
    typer.echo(token)


@admin_app.command("list")
def admin_list() -> None:
    """List admins."""
    from customer_backend.admins.service import list_admins

    for admin in _in_session(list_admins):
        state = "active" if admin.is_active else "deactivated"
        typer.echo(f"{admin.email}\t{admin.name}\t{admin.role}\t{state}")


@admin_app.command("deactivate")
def admin_deactivate(email: str = typer.Argument(..., help="The admin's email.")) -> None:
    """Stop an admin's email and revoke the Control Tower token."""
    from customer_backend.admins.service import deactivate_admin

    admin = _in_session(lambda session: deactivate_admin(session, clock=SystemClock(), email=email))
    typer.echo(f"deactivated {admin.email}")


if __name__ == "__main__":
    app()
