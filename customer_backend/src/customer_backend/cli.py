"""The ``customer-backend`` command: processes and admin management."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.config.commands import config_app
from customer_backend.deployments.commands import deployments_app, releases
from customer_backend.deployments.scheduling_commands import tasks_app
from customer_backend.installation.commands import agent_app
from customer_backend.intake.commands import release_app
from customer_backend.maintenance.commands import maintenance_app
from customer_backend.settings import get_settings
from servicekit.cli import ServiceProcesses, add_process_commands
from servicekit.commands import run_in_session
from servicekit.failures import CommandLine, command_group, service_typer
from servicekit.files import write_private_file
from servicekit.output import Column, print_json, print_table
from timekeeping import SystemClock

T = TypeVar("T")

app = service_typer(
    CommandLine(command="customer-backend", env_prefix="WRKTALK_"),
    "WrkTalk customer deployment backend.",
)
admin_app = command_group("Admins who receive email and use the Control Tower.")
app.add_typer(admin_app, name="admin")
app.command("releases")(releases)
app.add_typer(release_app, name="release")
app.add_typer(deployments_app, name="deployments")
app.add_typer(tasks_app, name="task")
app.add_typer(config_app, name="config")
app.add_typer(agent_app, name="agent")
app.add_typer(maintenance_app, name="maintenance")


def _in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return run_in_session(get_settings().database_url, work)


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
        help="admin; viewer: sees everything in the console and the API and changes nothing; "
        "or support: the vendor's team, the only Control Tower users who may change the "
        "essential configuration.",
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
    """Create an admin; the last line printed is the Control Tower token, shown only now.

    The admin signs in to the console with a link emailed from its sign-in page.
    """
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


@admin_app.command("sign-in-link")
def admin_sign_in_link(email: str = typer.Argument(..., help="The admin's email.")) -> None:
    """Print a one-time console sign-in link for an admin (instead of emailing it); it works
    once, for WRKTALK_CONSOLE_LINK_MINUTES."""
    from customer_backend.console.service import sign_in_link_for_host

    settings = get_settings()
    link = _in_session(
        lambda session: sign_in_link_for_host(
            session, clock=SystemClock(), settings=settings, email=email
        )
    )
    typer.echo(link)


ADMIN_COLUMNS = [Column("EMAIL", 40), Column("NAME", 30), Column("ROLE", 7), Column("STATE", 11)]


@admin_app.command("list")
def admin_list(
    json_output: bool = typer.Option(False, "--json", help="JSON: one object per admin."),
) -> None:
    """List admins (never their tokens)."""
    from customer_backend.admins.service import list_admins

    admins = _in_session(list_admins)
    if json_output:
        print_json(
            {
                "admins": [
                    {
                        "email": admin.email,
                        "name": admin.name,
                        "role": admin.role,
                        "isActive": admin.is_active,
                    }
                    for admin in admins
                ]
            }
        )
        return
    print_table(
        ADMIN_COLUMNS,
        [
            (admin.email, admin.name, admin.role, "active" if admin.is_active else "deactivated")
            for admin in admins
        ],
    )


@admin_app.command("deactivate")
def admin_deactivate(email: str = typer.Argument(..., help="The admin's email.")) -> None:
    """Stop an admin's email, revoke the Control Tower token and end console sessions."""
    from customer_backend.console.service import deactivate_admin

    admin = _in_session(lambda session: deactivate_admin(session, clock=SystemClock(), email=email))
    typer.echo(f"deactivated {admin.email}")


if __name__ == "__main__":
    app()
