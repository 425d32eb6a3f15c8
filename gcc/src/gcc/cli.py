"""The ``gcc`` command: processes (serve, worker, beat, migrate) and operator commands."""

from __future__ import annotations

from gcc.delivery.commands import redeliver_organization, redeliver_release
from gcc.escalations.commands import escalations_app
from gcc.operators.commands import operators_app
from gcc.organizations.commands import organizations_app
from gcc.organizations.fleet_commands import fleet
from gcc.releases.commands import releases_app
from gcc.releases.key_commands import keys_app
from gcc.rollouts import commands as rollout_commands
from servicekit.cli import ServiceProcesses, add_process_commands
from servicekit.failures import CommandLine, service_typer

app = service_typer(CommandLine(command="gcc", env_prefix="GCC_"), "WrkTalk Global Control Center.")
app.add_typer(organizations_app, name="org")
app.add_typer(releases_app, name="release")
app.add_typer(keys_app, name="keys")
app.add_typer(operators_app, name="operator")
app.add_typer(escalations_app, name="escalations")
app.command("fleet")(fleet)
organizations_app.command("redeliver")(redeliver_organization)
releases_app.command("redeliver")(redeliver_release)
releases_app.command("rollout")(rollout_commands.rollout)
releases_app.command("pause")(rollout_commands.pause)
releases_app.command("resume")(rollout_commands.resume)
releases_app.command("advance")(rollout_commands.advance)
releases_app.command("withdraw")(rollout_commands.withdraw_command)


@app.command()
def config() -> None:
    """Print the effective configuration (secrets masked)."""
    from gcc.settings import get_settings

    print(get_settings().model_dump_json(indent=2))


add_process_commands(
    app,
    ServiceProcesses(name="gcc", package="gcc", default_port=8000),
    worker_help="Run the Celery worker that delivers webhooks, classifies health and sends email.",
    beat_help="Run Celery beat: due deliveries, health classification, escalation email.",
)


if __name__ == "__main__":
    app()
