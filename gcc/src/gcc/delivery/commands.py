"""Operator commands: ``gcc release redeliver VERSION`` and ``gcc org redeliver NAME``, on the
same service as ``POST /api/operator/releases/{version}/redeliver``.

The dispatch they start is sent to the configured broker after the commit, as the API's is.
"""

from __future__ import annotations

import typer

from contracts import RedeliveryResponse
from gcc.audit.service import Actor
from gcc.command_runtime import run_with_runtime
from gcc.delivery import service
from servicekit.output import print_json


def _redeliver(version: str, organization: str | None) -> RedeliveryResponse:
    return run_with_runtime(
        lambda session, runtime: service.redeliver_failed(
            session,
            clock=runtime.clock,
            actor=Actor.command_line(),
            version_text=version,
            organization_name=organization,
            send_task=runtime.send_task,
        )
    )


def _print(answer: RedeliveryResponse, *, json_output: bool) -> None:
    if json_output:
        print_json(answer)
        return
    if not answer.organizations:
        typer.echo(f"release {answer.version}: no failed delivery to send again")
        return
    typer.echo(
        f"release {answer.version}: failed webhooks queued again for "
        f"{len(answer.organizations)} organizations: {', '.join(answer.organizations)}"
    )


def redeliver_release(
    version: str = typer.Argument(..., help="The published release."),
    organization: str | None = typer.Option(
        None, "--org", help="Only this organization's failed delivery."
    ),
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Send a published release's failed webhooks again (each keeps its webhook-id and gets a
    fresh allowance of attempts)."""
    _print(_redeliver(version, organization), json_output=json_output)


def redeliver_organization(
    name: str = typer.Argument(..., help="The organization's name."),
    release: str = typer.Option(..., "--release", help="The published release to send again."),
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Send this organization's failed webhook of a release again."""
    _print(_redeliver(release, name), json_output=json_output)
