"""The ``wrktalk-agent`` command: ``run``, ``once``, ``check`` and ``config``.

Exit codes of ``once``: 0 a task completed, 1 a task failed, 2 the configuration is unusable
or the backend unreachable, 3 no task, 4 a stop signal interrupted the task (reported failed,
retryable). ``run`` exits 0 after a stop signal and 2 on unusable configuration; ``check`` exits
0 when every check passes and 1 otherwise.
"""

from __future__ import annotations

import asyncio
import sys

import typer
from pydantic import ValidationError

from logconfig import configure_logging
from telemetry import configure_tracing
from wrktalk_agent.agent import Agent, OnceExit
from wrktalk_agent.checks import render_line, run_checks
from wrktalk_agent.errors import ConfigurationError
from wrktalk_agent.settings import Settings, get_settings

app = typer.Typer(help="WrkTalk deployment agent.", no_args_is_help=True)

SERVICE_NAME = "wrktalk-agent"

_debug = False
"""``--debug``: show the whole refusal of the settings, not its first line."""


def settings_failure(exc: ValidationError) -> str:
    """One line naming the first setting refused (``WRKTALK_AGENT_...``) and why."""
    first = exc.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper()
    others = exc.error_count() - 1
    more = f" (and {others} more; --debug shows them)" if others else ""
    return f"wrktalk-agent: setting WRKTALK_AGENT_{name}: {first['msg']}{more}"


def _settings(*, quiet: bool = False) -> Settings:
    try:
        settings = get_settings()
    except ValidationError as exc:
        message = f"wrktalk-agent: invalid configuration:\n{exc}" if _debug else None
        typer.echo(message or settings_failure(exc), err=True)
        raise typer.Exit(int(OnceExit.ERROR)) from exc
    configure_logging(
        level="WARNING" if quiet else settings.log_level,
        json=settings.log_json,
        service=SERVICE_NAME,
        # check prints its own report on stdout; its log goes beside it.
        stream=sys.stderr if quiet else None,
    )
    configure_tracing(service=SERVICE_NAME, endpoint=settings.otlp_endpoint)
    return settings


def _agent(settings: Settings) -> Agent:
    try:
        return Agent(settings)
    except ConfigurationError as exc:
        typer.echo(f"wrktalk-agent: {exc}", err=True)
        raise typer.Exit(int(OnceExit.ERROR)) from exc


@app.command()
def run() -> None:
    """Poll the backend and run its tasks until SIGTERM or SIGINT."""
    settings = _settings()

    async def main() -> None:
        agent = _agent(settings)
        agent.install_signal_handlers()
        try:
            await agent.run()
        finally:
            await agent.aclose()

    asyncio.run(main())


@app.command()
def once() -> None:
    """Poll once and run the task, if any.

    Exit code: 0 completed, 1 failed, 2 configuration or connection error, 3 no task,
    4 interrupted by a signal.
    """
    settings = _settings()

    async def main() -> OnceExit:
        agent = _agent(settings)
        agent.install_signal_handlers()
        try:
            return await agent.run_once()
        finally:
            await agent.aclose()

    code = asyncio.run(main())
    typer.echo(f"wrktalk-agent once: {code.name.lower().replace('_', ' ')}", err=True)
    raise typer.Exit(int(code))


@app.command()
def check() -> None:
    """Check the backend, the secret, the license, the executor and its directories."""
    settings = _settings(quiet=True)
    lines = asyncio.run(run_checks(settings))
    for line in lines:
        typer.echo(render_line(line))
    sys.stdout.flush()
    raise typer.Exit(0 if all(line.ok for line in lines) else 1)


@app.command()
def config() -> None:
    """Print the effective configuration (secrets masked)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        typer.echo(f"{exc}" if _debug else settings_failure(exc), err=True)
        raise typer.Exit(int(OnceExit.ERROR)) from exc
    typer.echo(settings.model_dump_json(indent=2))


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show every refused setting in full."),
) -> None:
    """WrkTalk deployment agent."""
    global _debug
    _debug = debug


if __name__ == "__main__":
    app()
