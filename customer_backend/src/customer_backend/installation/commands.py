"""Admin command: ``customer-backend agent status``, as ``GET /api/admin/agent/status``."""

from __future__ import annotations

import typer

from customer_backend.command_runtime import run_in_database
from customer_backend.installation import service
from servicekit.failures import command_group
from servicekit.output import print_json
from timekeeping import SystemClock

agent_app = command_group("The deployment agent.")


@agent_app.command("status")
def status(
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Whether the agent is polling: online when it polled in the last 10 minutes (exit 3 when
    it is not, for a monitoring script)."""
    view = run_in_database(lambda session: service.agent_status(session, clock=SystemClock()))
    if json_output:
        print_json(view)
    else:
        last = view.last_poll_at.isoformat(timespec="seconds") if view.last_poll_at else "never"
        typer.echo(f"agent {'online' if view.is_online else 'offline'}; last poll: {last}")
    if not view.is_online:
        raise typer.Exit(code=3)
