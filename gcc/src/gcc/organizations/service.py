"""Organizations: create, change, delete, rotate, fleet counts, and the versions each runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentStatus,
    DeploymentStatusReport,
    DeploymentType,
    FleetSummary,
    FleetVersionCount,
    HealthStatus,
    HeartbeatStatus,
    InvalidVersionError,
    OrganizationContacts,
    OrganizationCreateRequest,
    OrganizationUpdateRequest,
    OrganizationView,
    Version,
    VersionHistoryEntry,
    VersionHistoryList,
)
from gcc.organizations import repository
from gcc.organizations.models import Organization, VersionHistory
from gcc.organizations.repository import Candidate
from gcc.security import generate_api_key, hash_api_key
from gcc.settings import Settings
from servicekit.errors import Conflict, InvalidInput, NotFound
from signing import generate_secret
from timekeeping import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CreatedOrganization:
    """A new organization and the credentials that are shown only this once."""

    organization: Organization
    api_key: str
    webhook_secret: str


@dataclass(frozen=True)
class RotatedSecret:
    """The new webhook secret and until when the previous one still signs webhooks."""

    webhook_secret: str
    previous_secret_expires_at: datetime


def check_webhook_endpoint(endpoint: str, *, settings: Settings) -> None:
    """Refuse plain http unless the settings allow it (test and local stacks)."""
    if urlsplit(endpoint).scheme != "https" and not settings.allow_http_webhooks:
        raise InvalidInput("The webhook endpoint must use https.", field="webhookEndpoint")


async def create_organization(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    request: OrganizationCreateRequest,
) -> CreatedOrganization:
    """Add an organization with a fresh API key (stored as a hash) and webhook secret."""
    check_webhook_endpoint(request.webhook_endpoint, settings=settings)
    if await repository.name_is_taken(session, request.name):
        raise Conflict(f"An organization named {request.name!r} exists already.", field="name")
    api_key = generate_api_key()
    webhook_secret = generate_secret()
    now = clock.now()
    organization = Organization(
        name=request.name,
        deployment_type=str(request.deployment_type),
        webhook_endpoint=request.webhook_endpoint,
        webhook_secret=webhook_secret,
        api_key_hash=hash_api_key(api_key),
        license_expires_at=request.license_expires_at,
        current_version=str(request.current_version) if request.current_version else None,
        spoc_name=request.contacts.spoc_name,
        spoc_email=request.contacts.spoc_email,
        spoc_phone=request.contacts.spoc_phone,
        account_manager_email=request.account_manager_email,
        created_at=now,
        updated_at=now,
    )
    session.add(organization)
    try:
        await session.flush()
    except IntegrityError as exc:
        # two operators creating the same name at once: the unique index decides
        raise Conflict(
            f"An organization named {request.name!r} exists already.", field="name"
        ) from exc
    log.info(
        "organizations.create.succeeded",
        organization=organization.name,
        deployment_type=organization.deployment_type,
    )
    return CreatedOrganization(organization, api_key, webhook_secret)


async def get_organization(session: AsyncSession, *, name: str) -> Organization:
    """The active organization of that name, or NotFound."""
    organization = await repository.get_by_name(session, name)
    if organization is None:
        raise NotFound(f"There is no organization named {name!r}.", field="name")
    return organization


async def list_organizations(
    session: AsyncSession,
    *,
    health_status: HealthStatus | None = None,
    deployment_type: DeploymentType | None = None,
) -> Sequence[Organization]:
    """Active organizations by name, optionally filtered."""
    return await repository.list_filtered(
        session,
        health_status=str(health_status) if health_status else None,
        deployment_type=str(deployment_type) if deployment_type else None,
    )


async def update_organization(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    name: str,
    request: OrganizationUpdateRequest,
) -> Organization:
    """Change the fields present in ``request``; the others keep their values."""
    organization = await get_organization(session, name=name)
    given = request.model_fields_set
    if "deployment_type" in given:
        if request.deployment_type is None:
            raise InvalidInput("The deployment type cannot be empty.", field="deploymentType")
        organization.deployment_type = str(request.deployment_type)
    if "webhook_endpoint" in given:
        if request.webhook_endpoint is None:
            raise InvalidInput("The webhook endpoint cannot be empty.", field="webhookEndpoint")
        check_webhook_endpoint(request.webhook_endpoint, settings=settings)
        organization.webhook_endpoint = request.webhook_endpoint
    if "license_expires_at" in given:
        organization.license_expires_at = request.license_expires_at
    if "account_manager_email" in given:
        organization.account_manager_email = request.account_manager_email
    if "contacts" in given:
        # null clears every contact field; an object changes only the fields it holds
        contacts = request.contacts or OrganizationContacts(
            spoc_name=None, spoc_email=None, spoc_phone=None
        )
        for field_name in contacts.model_fields_set:
            setattr(organization, field_name, getattr(contacts, field_name))
    organization.updated_at = clock.now()
    session.add(organization)
    await session.flush()
    log.info("organizations.update.succeeded", organization=name, fields=sorted(given))
    return organization


async def delete_organization(session: AsyncSession, *, clock: Clock, name: str) -> None:
    """Soft-delete: the row stays for history, its API key stops working at once."""
    organization = await get_organization(session, name=name)
    now = clock.now()
    organization.deleted_at = now
    organization.updated_at = now
    session.add(organization)
    await session.flush()
    log.info("organizations.delete.succeeded", organization=name)


async def rotate_webhook_secret(
    session: AsyncSession, *, clock: Clock, settings: Settings, name: str
) -> RotatedSecret:
    """Issue a new webhook secret; the previous one keeps signing for the grace period, so a
    customer can switch over without missing a webhook."""
    organization = await get_organization(session, name=name)
    now = clock.now()
    new_secret = generate_secret()
    expires_at = now + settings.secret_rotation_grace
    organization.previous_webhook_secret = organization.webhook_secret
    organization.previous_secret_expires_at = expires_at
    organization.webhook_secret = new_secret
    organization.updated_at = now
    session.add(organization)
    await session.flush()
    log.info(
        "organizations.rotate_secret.succeeded",
        organization=name,
        previous_secret_expires_at=expires_at.isoformat(),
    )
    return RotatedSecret(new_secret, expires_at)


async def fleet_summary(session: AsyncSession) -> FleetSummary:
    """Active organizations per health state and per current version."""
    by_health = await repository.count_by_health(session)
    by_version = await repository.count_by_version(session)
    versions: list[tuple[Version | None, int]] = []
    unparsable = 0
    for text, count in by_version.items():
        version = _parse_version_or_none(text)
        if version is None:
            unparsable += count
        else:
            versions.append((version, count))
    versions.sort(key=lambda item: item[0], reverse=True)  # type: ignore[arg-type,return-value]
    if unparsable:
        versions.append((None, unparsable))
    return FleetSummary(
        total=sum(by_health.values()),
        health={status: by_health.get(str(status), 0) for status in HealthStatus},
        versions=[FleetVersionCount(version=version, count=count) for version, count in versions],
    )


def _parse_version_or_none(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version.parse(text)
    except InvalidVersionError:
        return None


def organization_view(organization: Organization) -> OrganizationView:
    """The operator's view of an organization: no secret, no key hash."""
    return OrganizationView(
        id=organization.id,
        name=organization.name,
        deployment_type=DeploymentType(organization.deployment_type),
        webhook_endpoint=organization.webhook_endpoint,
        license_expires_at=organization.license_expires_at,
        current_version=_parse_version_or_none(organization.current_version),
        reported_status=(
            HeartbeatStatus(organization.reported_status) if organization.reported_status else None
        ),
        health_status=HealthStatus(organization.health_status),
        is_online=organization.is_online,
        last_heartbeat_at=organization.last_heartbeat_at,
        last_webhook_ack_at=organization.last_webhook_ack_at,
        last_seen_at=organization.last_seen_at,
        agent_last_poll_at=organization.agent_last_poll_at,
        contacts=OrganizationContacts(
            spoc_name=organization.spoc_name,
            spoc_email=organization.spoc_email,
            spoc_phone=organization.spoc_phone,
        ),
        account_manager_email=organization.account_manager_email,
        previous_secret_expires_at=organization.previous_secret_expires_at,
        created_at=organization.created_at,
        updated_at=organization.updated_at,
    )


async def version_history(
    session: AsyncSession, *, name: str, limit: int = 100
) -> VersionHistoryList:
    """What an active organization reported running, newest first."""
    organization = await get_organization(session, name=name)
    entries = await repository.version_history(session, organization.id, limit=limit)
    return VersionHistoryList(
        versions=[
            VersionHistoryEntry(
                release_version=Version.parse(entry.release_version),
                status=entry.status,
                helm_revision=entry.helm_revision,
                is_rollback=entry.is_rollback,
                deployed_at=entry.deployed_at,
            )
            for entry in entries
        ]
    )


async def record_deployed_version(
    session: AsyncSession,
    *,
    organization: Organization,
    release_id: uuid.UUID,
    release_version: str,
    report: DeploymentStatusReport,
    now: datetime,
) -> None:
    """Move the organization's current version after a finished deployment or rollback, and
    add it to the version history once (a retried report adds nothing)."""
    deployed_at = report.deployed_at or now
    if report.current_version is not None:
        organization.current_version = str(report.current_version)
    elif report.status is DeploymentStatus.SUCCESS:
        organization.current_version = release_version
    # rolledBack without currentVersion: the previous version is running again, but which
    # one is not said, so the recorded version stays as it was.
    organization.updated_at = now
    session.add(organization)
    if await repository.history_exists(
        session,
        organization_id=organization.id,
        release_id=release_id,
        status=str(report.status),
        deployed_at=deployed_at,
    ):
        return
    session.add(
        VersionHistory(
            organization_id=organization.id,
            release_id=release_id,
            release_version=release_version,
            status=str(report.status),
            helm_revision=report.helm_revision,
            is_rollback=report.is_rollback or report.status is DeploymentStatus.ROLLED_BACK,
            deployed_at=deployed_at,
        )
    )


async def active_organization_names(session: AsyncSession, names: Iterable[str]) -> set[str]:
    """Which of ``names`` are active organizations."""
    return await repository.active_names(session, names)


async def publish_candidates(session: AsyncSession, names: Sequence[str] | None) -> list[Candidate]:
    """Active organizations, all of them or those named, with what the release gates read:
    deployment type, license expiry and current version."""
    return await repository.publish_candidates(session, names)
