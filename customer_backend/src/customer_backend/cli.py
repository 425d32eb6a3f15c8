"""The ``customer-backend`` command."""

from __future__ import annotations

import typer

from customer_backend.settings import get_settings

app = typer.Typer(help="WrkTalk customer deployment backend.", no_args_is_help=True)


@app.command()
def config() -> None:
    """Print the effective configuration (secrets masked)."""
    typer.echo(get_settings().model_dump_json(indent=2))


@app.callback()
def main() -> None:
    """WrkTalk customer deployment backend."""


if __name__ == "__main__":
    app()
