"""Organizations: create, change, delete, rotate, fleet counts, and the versions each runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AuditAction,
    DeploymentType,
    HealthStatus,
    HeartbeatStatus,
    InvalidVersionError,
    OrganizationContacts,
    OrganizationCreateRequest,
    OrganizationUpdateRequest,
    OrganizationView,
    Version,
)
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.organizations import repository
from gcc.organizations.models import Organization
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
    actor: Actor,
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
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ORGANIZATION_CREATE,
        organization_name=organization.name,
        details={"deploymentType": organization.deployment_type},
    )
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
    current_version: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Organization]:
    """Active organizations by name, optionally filtered, a page of ``limit`` after
    ``offset``."""
    return await repository.list_filtered(
        session,
        health_status=str(health_status) if health_status else None,
        deployment_type=str(deployment_type) if deployment_type else None,
        current_version=current_version,
        limit=limit,
        offset=offset,
    )


async def count_organizations(
    session: AsyncSession,
    *,
    health_status: HealthStatus | None = None,
    deployment_type: DeploymentType | None = None,
    current_version: str | None = None,
) -> int:
    """How many active organizations match the filters of :func:`list_organizations`."""
    return await repository.count_filtered(
        session,
        health_status=str(health_status) if health_status else None,
        deployment_type=str(deployment_type) if deployment_type else None,
        current_version=current_version,
    )


async def update_organization(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    actor: Actor,
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
    previous_license = organization.license_expires_at
    if "license_expires_at" in given:
        organization.license_expires_at = request.license_expires_at
    if "account_manager_email" in given:
        organization.account_manager_email = request.account_manager_email
    if "ring" in given:
        organization.ring = _known_ring(request.ring, settings=settings)
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
    await _record_update(
        session,
        clock=clock,
        actor=actor,
        organization=organization,
        request=request,
        previous_license=previous_license,
    )
    log.info("organizations.update.succeeded", organization=name, fields=sorted(given))
    return organization


async def _record_update(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    organization: Organization,
    request: OrganizationUpdateRequest,
    previous_license: datetime | None,
) -> None:
    """A license change is an entry of its own (the trail is searched for them); any other
    field changed is one ``organization.update`` entry naming the fields."""
    given = request.model_dump(by_alias=True, exclude_unset=True)
    if "licenseExpiresAt" in given:
        given.pop("licenseExpiresAt")
        await audit_service.record(
            session,
            clock=clock,
            actor=actor,
            action=AuditAction.ORGANIZATION_LICENSE,
            organization_name=organization.name,
            details={
                "from": previous_license.isoformat() if previous_license else None,
                "to": (
                    organization.license_expires_at.isoformat()
                    if organization.license_expires_at
                    else None
                ),
            },
        )
    if given:
        await audit_service.record(
            session,
            clock=clock,
            actor=actor,
            action=AuditAction.ORGANIZATION_UPDATE,
            organization_name=organization.name,
            details={"fields": sorted(given)},
        )


async def delete_organization(
    session: AsyncSession, *, clock: Clock, actor: Actor, name: str
) -> None:
    """Soft-delete: the row stays for history, its API key stops working at once."""
    organization = await get_organization(session, name=name)
    now = clock.now()
    organization.deleted_at = now
    organization.updated_at = now
    session.add(organization)
    await session.flush()
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ORGANIZATION_DELETE,
        organization_name=name,
    )
    log.info("organizations.delete.succeeded", organization=name)


async def rotate_webhook_secret(
    session: AsyncSession, *, clock: Clock, settings: Settings, actor: Actor, name: str
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
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ORGANIZATION_ROTATE_SECRET,
        organization_name=name,
        details={"previousSecretExpiresAt": expires_at.isoformat()},
    )
    log.info(
        "organizations.rotate_secret.succeeded",
        organization=name,
        previous_secret_expires_at=expires_at.isoformat(),
    )
    return RotatedSecret(new_secret, expires_at)


def _parse_version_or_none(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version.parse(text)
    except InvalidVersionError:
        return None


def _known_ring(ring: str | None, *, settings: Settings) -> str:
    """``ring`` when it is one of the configured rings; 422 naming ``ring`` otherwise."""
    if ring is None or ring not in settings.rollout_rings:
        raise InvalidInput(
            f"ring: {ring!r} is not a ring; the rings are {', '.join(settings.rollout_rings)}",
            field="ring",
        )
    return ring


def organization_view(organization: Organization) -> OrganizationView:
    """The operator's view of an organization: no secret, no key hash."""
    return OrganizationView(
        id=organization.id,
        name=organization.name,
        deployment_type=DeploymentType(organization.deployment_type),
        webhook_endpoint=organization.webhook_endpoint,
        license_expires_at=organization.license_expires_at,
        current_version=_parse_version_or_none(organization.current_version),
        app_version=organization.app_version,
        heartbeat_enabled=organization.heartbeat_enabled,
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
        ring=organization.ring,
        created_at=organization.created_at,
        updated_at=organization.updated_at,
    )


async def record_heartbeat_enabled(
    session: AsyncSession, *, organization: Organization, enabled: bool, now: datetime
) -> None:
    """Record whether the organization's backend sends heartbeats (spec 13
    ``heartbeatEnabled``); while it does not, the classification keeps it ``unknown``."""
    if organization.heartbeat_enabled == enabled:
        return
    organization.heartbeat_enabled = enabled
    organization.updated_at = now
    if not enabled:
        # it is unknown from now on, not at the next classification
        organization.health_status = str(HealthStatus.UNKNOWN)
        organization.is_online = False
    session.add(organization)
    await session.flush()
    log.info(
        "organizations.heartbeat_setting.changed",
        organization=organization.name,
        heartbeat_enabled=enabled,
    )


async def active_organization_names(session: AsyncSession, names: Iterable[str]) -> set[str]:
    """Which of ``names`` are active organizations."""
    return await repository.active_names(session, names)


async def publish_candidates(session: AsyncSession, names: Sequence[str] | None) -> list[Candidate]:
    """Active organizations, all of them or those named, with what the release gates read:
    deployment type, license expiry and current version."""
    return await repository.publish_candidates(session, names)
