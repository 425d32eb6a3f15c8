"""Admin commands: ``customer-backend maintenance status|on|off``, on the same services as
``GET`` and ``PUT /api/admin/maintenance``."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import MaintenanceModeUpdate, MaintenanceModeView
from customer_backend.admins.service import active_admin
from customer_backend.maintenance import service
from customer_backend.settings import get_settings
from servicekit.commands import run_in_session
from servicekit.failures import command_group
from servicekit.output import Column, print_json, print_table
from timekeeping import SystemClock

maintenance_app = command_group(
    "Maintenance mode outside a deployment: the agent applies it on its next poll."
)

CHANGE_COLUMNS = [
    Column("CHANGED (UTC)", 25),
    Column("STATE", 5),
    Column("BY", 30),
    Column("APPLIED (UTC)", 25),
    Column("REASON", 40),
]

BY_HELP = "Email of the active admin making the change (recorded and emailed to the admins)."
REASON_HELP = "Why, for the record and the admins' email."
JSON_HELP = "JSON, as the API answers."


def _print(view: MaintenanceModeView, *, json_output: bool) -> None:
    if json_output:
        print_json(view)
        return
    state = "on" if view.enabled else "off"
    applied = "applied by the agent" if view.is_applied else "waiting for the agent's next poll"
    typer.echo(f"maintenance mode: {state} ({applied})")
    if view.changes:
        typer.echo("")
        print_table(
            CHANGE_COLUMNS,
            [
                (
                    change.changed_at,
                    "on" if change.enabled else "off",
                    change.changed_by,
                    change.applied_at,
                    change.reason,
                )
                for change in view.changes
            ],
        )


def _switch(enabled: bool, by: str, reason: str | None, json_output: bool) -> None:
    try:
        request = MaintenanceModeUpdate(enabled=enabled, reason=reason)
    except ValidationError as exc:
        typer.echo(f"error (--reason): {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(code=2) from exc

    async def switch(session: AsyncSession) -> MaintenanceModeView:
        admin = await active_admin(session, email=by)
        # no task sender: beat's email outbox sends the admins' email within seconds
        return await service.switch_maintenance_mode(
            session, clock=SystemClock(), request=request, admin_email=admin.email
        )

    _print(run_in_session(get_settings().database_url, switch), json_output=json_output)


@maintenance_app.command("status")
def status(json_output: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """The state asked for last, whether the agent applied it, and the latest changes."""
    view = run_in_session(get_settings().database_url, service.maintenance_mode)
    _print(view, json_output=json_output)


@maintenance_app.command("on")
def switch_on(
    by: str = typer.Option(..., help=BY_HELP),
    reason: str | None = typer.Option(None, help=REASON_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Switch maintenance mode on; asking for the state already asked for changes nothing."""
    _switch(True, by, reason, json_output)


@maintenance_app.command("off")
def switch_off(
    by: str = typer.Option(..., help=BY_HELP),
    reason: str | None = typer.Option(None, help=REASON_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Switch maintenance mode off; asking for the state already asked for changes nothing."""
    _switch(False, by, reason, json_output)
