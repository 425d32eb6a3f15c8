"""The ``wrktalk-agent`` command."""

from __future__ import annotations

import typer

from wrktalk_agent.settings import get_settings

app = typer.Typer(help="WrkTalk deployment agent.", no_args_is_help=True)


@app.command()
def config() -> None:
    """Print the effective configuration (secrets masked)."""
    typer.echo(get_settings().model_dump_json(indent=2))


@app.callback()
def main() -> None:
    """WrkTalk deployment agent."""


if __name__ == "__main__":
    app()
