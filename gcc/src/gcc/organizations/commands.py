"""Operator commands: ``gcc org add|list|show|update|rotate-secret``, on the same services as
the operator API (``gcc org redeliver`` is delivery's, in :mod:`gcc.delivery.commands`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentType,
    HealthStatus,
    OrganizationCreateRequest,
    OrganizationList,
    OrganizationUpdateRequest,
    SecretRotated,
)
from gcc.audit.service import Actor
from gcc.organizations import repository, service
from gcc.organizations.models import Organization
from gcc.organizations.service import organization_view
from gcc.settings import get_settings
from servicekit.commands import run_in_session, validated
from servicekit.failures import command_group
from servicekit.files import write_private_file
from servicekit.output import Column, print_json, print_page_footer, print_table
from timekeeping import SystemClock

API_KEY_FILE = "wrktalk_gcc_api_key"
WEBHOOK_SECRET_FILE = "wrktalk_webhook_secret"  # noqa: S105 - a file name
"""File names of ``--credentials-dir``: the customer backend's settings of the same names."""

organizations_app = command_group("Manage organizations.")

ACTOR = Actor.command_line()
"""Who the audit trail names for these commands' changes."""

T = TypeVar("T")


def run_in_database(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
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
    if (
        if_absent
        and run_in_database(lambda session: repository.get_by_name(session, name)) is not None
    ):
        _keep_existing(name, credentials_dir)
        return
    created = run_in_database(
        lambda session: service.create_organization(
            session, clock=SystemClock(), settings=settings, actor=ACTOR, request=request
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
    return validated(OrganizationCreateRequest, raw)


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


ORGANIZATION_COLUMNS = [
    Column("NAME", 30),
    Column("TYPE", 10),
    Column("HEALTH", 8),
    Column("VERSION", 14),
    Column("LAST SEEN", 25),
]


def print_organizations(
    organizations: Sequence[Organization], *, offset: int, total: int, json_output: bool
) -> None:
    """A page of organizations as a table with a footer, or as the API's JSON."""
    views = [organization_view(organization) for organization in organizations]
    if json_output:
        print_json(OrganizationList(organizations=views, total=total))
        return
    print_table(
        ORGANIZATION_COLUMNS,
        [
            (
                view.name,
                view.deployment_type,
                view.health_status,
                view.current_version,
                view.last_seen_at or "never",
            )
            for view in views
        ],
    )
    print_page_footer(shown=len(views), offset=offset, total=total, noun="organizations")


@organizations_app.command("list")
def list_(
    health: HealthStatus | None = typer.Option(None, help="Only this health state."),
    deployment_type: DeploymentType | None = typer.Option(None, help="Only this type."),
    limit: int = typer.Option(50, min=1, max=5000, help="At most this many."),
    offset: int = typer.Option(0, min=0, help="Skip this many (the next page)."),
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """List active organizations with their health and version, a page at a time."""

    async def work(session: AsyncSession) -> tuple[Sequence[Organization], int]:
        found = await service.list_organizations(
            session,
            health_status=health,
            deployment_type=deployment_type,
            limit=limit,
            offset=offset,
        )
        total = await service.count_organizations(
            session, health_status=health, deployment_type=deployment_type
        )
        return found, total

    organizations, total = run_in_database(work)
    print_organizations(organizations, offset=offset, total=total, json_output=json_output)


@organizations_app.command("show")
def show(name: str = typer.Argument(..., help="The organization's name.")) -> None:
    """Show one organization (never its secrets), as the API's JSON."""
    organization = run_in_database(lambda session: service.get_organization(session, name=name))
    print_json(organization_view(organization))


@organizations_app.command("update")
def update(
    name: str = typer.Argument(..., help="The organization's name."),
    deployment_type: DeploymentType | None = typer.Option(
        None, help="kubernetes, docker or gitops."
    ),
    webhook_endpoint: str | None = typer.Option(None, help="Where release webhooks are posted."),
    license_expires_at: str | None = typer.Option(
        None, help="License expiry, ISO 8601 with a time zone; `none` clears it."
    ),
    account_manager_email: str | None = typer.Option(None, help="`none` clears it."),
    spoc_name: str | None = typer.Option(None, help="Customer's single point of contact."),
    spoc_email: str | None = typer.Option(None, help="Their email."),
    spoc_phone: str | None = typer.Option(None, help="Their phone."),
) -> None:
    """Change the options given (as PATCH /api/operator/organizations/{name}) and print the
    organization."""
    raw: dict[str, Any] = {
        key: None if value == "none" else value
        for key, value in {
            "deploymentType": deployment_type,
            "webhookEndpoint": webhook_endpoint,
            "licenseExpiresAt": license_expires_at,
            "accountManagerEmail": account_manager_email,
        }.items()
        if value is not None
    }
    contacts = {
        key: value
        for key, value in {
            "spocName": spoc_name,
            "spocEmail": spoc_email,
            "spocPhone": spoc_phone,
        }.items()
        if value is not None
    }
    if contacts:
        raw["contacts"] = contacts
    if not raw:
        typer.echo("error: give at least one option to change (see --help)", err=True)
        raise typer.Exit(code=2)
    request = validated(OrganizationUpdateRequest, raw)
    settings = get_settings()
    organization = run_in_database(
        lambda session: service.update_organization(
            session,
            clock=SystemClock(),
            settings=settings,
            actor=ACTOR,
            name=name,
            request=request,
        )
    )
    print_json(organization_view(organization))


@organizations_app.command("ring")
def ring(
    name: str = typer.Argument(..., help="The organization's name."),
    ring_name: str = typer.Argument(..., metavar="RING", help="One of GCC_ROLLOUT_RINGS."),
) -> None:
    """Place the organization in a rollout ring (as PATCH .../organizations/{name} with
    `ring`) and print it."""
    request = validated(OrganizationUpdateRequest, {"ring": ring_name})
    settings = get_settings()
    organization = run_in_database(
        lambda session: service.update_organization(
            session, clock=SystemClock(), settings=settings, actor=ACTOR, name=name, request=request
        )
    )
    typer.echo(f"{organization.name} is in ring {organization.ring}")


@organizations_app.command("rotate-secret")
def rotate_secret(
    name: str = typer.Argument(..., help="The organization's name."),
    json_output: bool = typer.Option(False, "--json", help="JSON, as the API answers."),
) -> None:
    """Issue a new webhook secret (shown only now); webhooks carry both signatures until the
    previous one expires."""
    settings = get_settings()
    rotated = run_in_database(
        lambda session: service.rotate_webhook_secret(
            session,
            clock=SystemClock(),
            settings=settings,
            actor=ACTOR,
            name=name,
        )
    )
    if json_output:
        print_json(
            SecretRotated(
                webhook_secret=rotated.webhook_secret,
                previous_secret_expires_at=rotated.previous_secret_expires_at,
            )
        )
        return
    typer.echo(f"webhook secret: {rotated.webhook_secret}")
    typer.echo(
        f"the previous secret keeps signing until "
        f"{rotated.previous_secret_expires_at.isoformat(timespec='seconds')}; "
        "send the new one to the customer over a secure channel"
    )
