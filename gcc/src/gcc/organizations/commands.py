"""Operator commands: ``gcc org add|list|show``, on the same services as the operator API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentType,
    HealthStatus,
    OrganizationCreateRequest,
    field_from_location,
)
from gcc.organizations import repository, service
from gcc.organizations.service import organization_view
from gcc.settings import get_settings
from servicekit.commands import run_in_session
from servicekit.files import write_private_file
from timekeeping import SystemClock

API_KEY_FILE = "wrktalk_gcc_api_key"
WEBHOOK_SECRET_FILE = "wrktalk_webhook_secret"  # noqa: S105 - a file name
"""File names of ``--credentials-dir``: the customer backend's settings of the same names."""

organizations_app = typer.Typer(help="Manage organizations.", no_args_is_help=True)

T = TypeVar("T")


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction against the configured database."""
    return run_in_session(get_settings().database_url, work)


@organizations_app.command("add")
def add(
    name: str = typer.Option(..., help="Unique name: lowercase letters, digits, hyphens."),
    deployment_type: DeploymentType = typer.Option(..., help="kubernetes, docker or gitops."),
    webhook_endpoint: str = typer.Option(..., help="Where release webhooks are posted."),
    license_expires_at: str | None = typer.Option(
        None, help="License expiry, ISO 8601 with a time zone (2027-01-31T00:00:00+00:00)."
    ),
    current_version: str | None = typer.Option(None, help="Version running today."),
    spoc_name: str | None = typer.Option(None, help="Customer's single point of contact."),
    spoc_email: str | None = typer.Option(None, help="Their email."),
    spoc_phone: str | None = typer.Option(None, help="Their phone."),
    account_manager_email: str | None = typer.Option(
        None, help="Account manager who receives escalations."
    ),
    credentials_dir: Path | None = typer.Option(
        None,
        help="Also write the API key and webhook secret to files in this directory (mode "
        f"0600), named {API_KEY_FILE} and {WEBHOOK_SECRET_FILE}: the customer backend reads "
        "them when WRKTALK_SECRETS_DIR names the directory.",
    ),
    if_absent: bool = typer.Option(
        False,
        help="When the organization exists already, change nothing and exit 0 (with "
        "--credentials-dir, only if its files are there).",
    ),
) -> None:
    """Add an organization and print its API key and webhook secret (shown only once)."""
    request = _creation_request(
        {
            "name": name,
            "deploymentType": deployment_type,
            "webhookEndpoint": webhook_endpoint,
            "licenseExpiresAt": license_expires_at,
            "currentVersion": current_version,
            "contacts": {"spocName": spoc_name, "spocEmail": spoc_email, "spocPhone": spoc_phone},
            "accountManagerEmail": account_manager_email,
        }
    )
    settings = get_settings()
    if if_absent and _run(lambda session: repository.get_by_name(session, name)) is not None:
        _keep_existing(name, credentials_dir)
        return
    created = _run(
        lambda session: service.create_organization(
            session, clock=SystemClock(), settings=settings, request=request
        )
    )
    typer.echo(f"organization {created.organization.name} added")
    typer.echo(f"API key:        {created.api_key}")
    typer.echo(f"webhook secret: {created.webhook_secret}")
    if credentials_dir is not None:
        write_private_file(credentials_dir / API_KEY_FILE, created.api_key)
        write_private_file(credentials_dir / WEBHOOK_SECRET_FILE, created.webhook_secret)
        typer.echo(f"written to {credentials_dir / API_KEY_FILE} and {WEBHOOK_SECRET_FILE}")
    typer.echo("Store both now: they are not shown again.")


def _creation_request(raw: dict[str, Any]) -> OrganizationCreateRequest:
    """The options as the API's request body; exit 2 naming the first option refused."""
    try:
        return OrganizationCreateRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        typer.echo(f"error ({field_from_location(first['loc'])}): {first['msg']}", err=True)
        raise typer.Exit(code=2) from exc


def _keep_existing(name: str, credentials_dir: Path | None) -> None:
    """``--if-absent`` found the organization: exit 1 when its credential files are missing."""
    missing = _missing_credential_files(credentials_dir)
    if missing:
        typer.echo(
            f"error: organization {name} exists, but {', '.join(missing)} is missing and "
            "the API key is not stored anywhere else: rotate the webhook secret and issue "
            "a new key, or delete the organization and add it again",
            err=True,
        )
        raise typer.Exit(code=1)
    typer.echo(f"organization {name} exists already; nothing changed")


def _missing_credential_files(credentials_dir: Path | None) -> list[str]:
    if credentials_dir is None:
        return []
    return [
        str(credentials_dir / file)
        for file in (API_KEY_FILE, WEBHOOK_SECRET_FILE)
        if not (credentials_dir / file).is_file()
    ]


@organizations_app.command("list")
def list_(
    health: HealthStatus | None = typer.Option(None, help="Only this health state."),
    deployment_type: DeploymentType | None = typer.Option(None, help="Only this type."),
) -> None:
    """List active organizations with their health and version."""
    organizations = _run(
        lambda session: service.list_organizations(
            session, health_status=health, deployment_type=deployment_type
        )
    )
    typer.echo(f"{'NAME':<32} {'TYPE':<11} {'HEALTH':<9} {'VERSION':<16} LAST SEEN")
    for organization in organizations:
        seen = organization.last_seen_at.isoformat() if organization.last_seen_at else "never"
        typer.echo(
            f"{organization.name:<32} {organization.deployment_type:<11} "
            f"{organization.health_status:<9} {organization.current_version or '-':<16} {seen}"
        )
    typer.echo(f"{len(organizations)} organization(s)")


@organizations_app.command("show")
def show(name: str = typer.Argument(..., help="The organization's name.")) -> None:
    """Show one organization (never its secrets)."""
    organization = _run(lambda session: service.get_organization(session, name=name))
    typer.echo(organization_view(organization).model_dump_json(indent=2))
