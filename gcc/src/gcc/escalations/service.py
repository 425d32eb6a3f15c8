"""Raising and resolving escalations."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AuditAction, EscalationList, EscalationType, EscalationView, Version
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.escalations import repository
from gcc.escalations.models import Escalation
from gcc.escalations.repository import EscalationRow
from gcc.notifications.email import OutgoingEmail, SmtpMailer, render_email
from gcc.organizations.models import Organization
from gcc.settings import Settings
from servicekit.errors import Conflict, InvalidInput, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)


def dedupe_key(
    escalation_type: EscalationType | str,
    organization_id: uuid.UUID,
    release_id: uuid.UUID | None,
) -> str:
    """One escalation per type, organization and release (or none)."""
    return f"{escalation_type}:{organization_id}:{release_id or '-'}"


async def raise_escalation(
    session: AsyncSession,
    *,
    clock: Clock,
    escalation_type: EscalationType,
    organization_id: uuid.UUID,
    reason: str,
    release_id: uuid.UUID | None = None,
    release_version: str | None = None,
    details: dict[str, Any] | None = None,
    dedupe: str | None = None,
) -> bool:
    """Record an escalation unless the same one exists already; True when it is new.

    ``dedupe`` replaces the usual key (type, organization, release) for an escalation raised
    once per event rather than once per organization and release (a rollout's halts).

    An escalation about a release records its version too (``release_version``), so that
    listing and emailing escalations never reads the releases' table.

    New escalations are emailed by the ``escalations.notify_new`` task, which picks up every
    row whose ``notified_at`` is empty, so raising stays one statement and is never lost if the
    mail server is down.
    """
    statement = (
        insert(Escalation)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            release_id=release_id,
            release_version=release_version,
            type=str(escalation_type),
            dedupe_key=dedupe or dedupe_key(escalation_type, organization_id, release_id),
            reason=reason,
            details=details,
            escalated_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(col(Escalation.id))
    )
    result = await session.exec(statement)
    return result.first() is not None


async def resolve_many(
    session: AsyncSession, resolutions: Mapping[uuid.UUID, str], *, now: datetime
) -> None:
    """Resolve each of these open escalations with its own resolution text, in one statement."""
    await repository.resolve_many(session, resolutions, now=now)


def escalation_view(row: EscalationRow) -> EscalationView:
    """The operator's view of an escalation."""
    escalation, organization = row
    release_version = escalation.release_version
    return EscalationView(
        id=escalation.id,
        type=EscalationType(escalation.type),
        organization_name=organization.name,
        release_id=escalation.release_id,
        release_version=Version.parse(release_version) if release_version else None,
        reason=escalation.reason,
        details=escalation.details,
        escalated_at=escalation.escalated_at,
        notified_at=escalation.notified_at,
        resolved_at=escalation.resolved_at,
        resolution=escalation.resolution,
        is_open=escalation.resolved_at is None,
    )


async def list_escalations(
    session: AsyncSession,
    *,
    escalation_type: EscalationType | None = None,
    organization_name: str | None = None,
    is_open: bool | None = None,
    limit: int = 500,
    offset: int = 0,
) -> EscalationList:
    """Escalations matching the filters, newest first, a page of ``limit`` after ``offset``."""
    rows, total = await repository.list_with_context(
        session,
        type_=str(escalation_type) if escalation_type else None,
        organization_name=organization_name,
        is_open=is_open,
        limit=limit,
        offset=offset,
    )
    return EscalationList(escalations=[escalation_view(row) for row in rows], total=total)


SHORTEST_ID_PREFIX = 8
"""The fewest leading characters of an escalation id that name it (as lists show them)."""


async def find_escalation_id(session: AsyncSession, *, id_text: str) -> uuid.UUID:
    """The escalation a whole id or its first characters (at least eight, as a list shows
    them) name; 404 when none does, 422 when the text is no id or more than one starts so."""
    text_form = id_text.strip().lower()
    try:
        return uuid.UUID(text_form)
    except ValueError:
        pass
    if len(text_form) < SHORTEST_ID_PREFIX or text_form.strip("0123456789abcdef-"):
        raise InvalidInput(
            f"{id_text!r} is not an escalation id nor its first {SHORTEST_ID_PREFIX} or more "
            "characters.",
            field="id",
        )
    found = await repository.ids_starting_with(session, text_form, limit=2)
    if not found:
        raise NotFound(f"There is no escalation whose id starts with {text_form}.", field="id")
    if len(found) > 1:
        raise InvalidInput(
            f"More than one escalation id starts with {text_form}: give more characters.",
            field="id",
        )
    return found[0]


async def resolve_escalation(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    escalation_id: uuid.UUID,
    resolution: str,
) -> EscalationView:
    """Close an escalation with what was done about it; resolving twice is a conflict."""
    row = await repository.get_with_context(session, escalation_id, for_update=True)
    if row is None:
        raise NotFound(f"There is no escalation with id {escalation_id}.", field="id")
    escalation = row[0]
    if escalation.resolved_at is not None:
        raise Conflict(
            f"The escalation was resolved already at {escalation.resolved_at.isoformat()}.",
            field="id",
        )
    escalation.resolved_at = clock.now()
    escalation.resolution = resolution
    session.add(escalation)
    await session.flush()
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ESCALATION_RESOLVE,
        organization_name=row[1].name,
        release_version=escalation.release_version,
        escalation_id=escalation.id,
        details={"type": escalation.type, "reason": resolution},
    )
    log.info(
        "escalations.resolve.succeeded",
        escalation_id=str(escalation.id),
        type=escalation.type,
        organization=row[1].name,
    )
    return escalation_view(row)


@dataclass(frozen=True)
class NotifyResult:
    """What one notification run did."""

    sent: int
    pending: int
    """Escalations still waiting because the mail server failed (retried next run)."""


TITLES = {
    EscalationType.FORCED_24H_EXCEEDED: "Forced release not deployed in time",
    EscalationType.MIN_VERSION_BLOCKED: "Release blocked by minimum version",
    EscalationType.LICENSE_EXPIRED: "License expired, release withheld",
    EscalationType.DEPLOYMENT_FAILED: "Deployment failed",
    EscalationType.CLIENT_OFFLINE: "Organization not seen for more than 24 hours",
    EscalationType.DOWNLOAD_FAILED: "Customer could not download the release",
    EscalationType.WEBHOOK_REJECTED: "Webhook rejected by the customer (401)",
    EscalationType.WEBHOOK_GONE: "Webhook endpoint gone (410)",
    EscalationType.WEBHOOK_FAILED: "Webhook not delivered after every attempt",
    EscalationType.ROLLOUT_HALTED: "Phased rollout halted",
}
ADVICE = {
    EscalationType.FORCED_24H_EXCEEDED: "Contact the customer to schedule the deployment now.",
    EscalationType.MIN_VERSION_BLOCKED: (
        "The organization must first upgrade to the release's minimum version; once it "
        "reports that version, GCC sends the release within a minute and closes this "
        "escalation."
    ),
    EscalationType.LICENSE_EXPIRED: (
        "Renew the license (PATCH /api/operator/organizations/{name} with licenseExpiresAt); "
        "GCC then sends the release within a minute and closes this escalation."
    ),
    EscalationType.DEPLOYMENT_FAILED: (
        "Look at the error above with the customer; they can retry or roll back."
    ),
    EscalationType.CLIENT_OFFLINE: (
        "The customer backend has not reported for over 24 hours; check it is running. "
        "GCC closes this escalation when its heartbeats return."
    ),
    EscalationType.DOWNLOAD_FAILED: (
        "The customer backend could not download or verify the artifact from GCC after its "
        "tries and keeps trying in the background; check the artifact is still in GCC's bucket "
        "and that the customer can reach GCC."
    ),
    EscalationType.WEBHOOK_REJECTED: (
        "The customer backend refuses GCC's signature: check it holds the organization's "
        "current webhook secret (rotate it if needed), then "
        "POST /api/operator/releases/{version}/redeliver."
    ),
    EscalationType.WEBHOOK_GONE: (
        "The customer's webhook endpoint answered 410 and GCC stopped sending to it. Ask the "
        "customer for its current endpoint (PATCH /api/operator/organizations/{name} with "
        "webhookEndpoint), then POST /api/operator/releases/{version}/redeliver."
    ),
    EscalationType.WEBHOOK_FAILED: (
        "The customer's webhook endpoint failed every attempt (its last answer is above). The "
        "release is not lost: the customer backend takes it from its next poll of GCC. If the "
        "backend is down or unreachable, check with the customer; once it answers again, "
        "POST /api/operator/releases/{version}/redeliver sends the webhook again."
    ),
    EscalationType.ROLLOUT_HALTED: (
        "No further wave is notified. Look at the numbers above and the wave's organizations "
        "(GET /api/operator/releases/{version}/rollout). When the release is fine, "
        "`gcc release resume {version}` notifies the next wave; when it is bad, "
        "`gcc release withdraw {version}` takes it back (see the rollout runbook)."
    ),
}


def recipients_of(organization: Organization, settings: Settings) -> list[str]:
    """The account manager, then the GCC admins, each once."""
    addresses = [organization.account_manager_email, *settings.admin_emails]
    unique: list[str] = []
    for address in addresses:
        if address and address.lower() not in {known.lower() for known in unique}:
            unique.append(address)
    return unique


def escalation_email(row: EscalationRow, settings: Settings) -> OutgoingEmail:
    """The email announcing one escalation."""
    escalation, organization = row
    release_version = escalation.release_version
    escalation_type = EscalationType(escalation.type)
    return render_email(
        "escalation.txt.j2",
        {
            "title": TITLES[escalation_type],
            "advice": ADVICE[escalation_type],
            "type": escalation.type,
            "reason": escalation.reason,
            "organization_name": organization.name,
            "release_version": release_version,
            "escalated_at": escalation.escalated_at.isoformat(),
            "escalation_id": str(escalation.id),
            "details": escalation.details or {},
            "spoc_name": organization.spoc_name,
            "spoc_email": organization.spoc_email,
            "spoc_phone": organization.spoc_phone,
        },
        recipients_of(organization, settings),
    )


async def notify_new_escalations(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    mailer: SmtpMailer,
    batch_size: int = 100,
) -> NotifyResult:
    """Email every escalation not emailed yet and mark it; stop at the first mail failure.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and marked in the same transaction as
    they are sent, so an overlapping run never sends one twice; what the server did not take
    keeps ``notified_at`` empty and is retried by the next run.
    """
    sent_total = 0
    while True:
        rows = await repository.claim_unnotified(session, limit=batch_size)
        if not rows:
            return NotifyResult(sent=sent_total, pending=0)
        with_recipients = [row for row in rows if recipients_of(row[1], settings)]
        messages = [escalation_email(row, settings) for row in with_recipients]
        handled = await asyncio.to_thread(mailer.send_all, messages)
        now = clock.now()
        done = with_recipients[:handled]
        for row in rows:
            if not recipients_of(row[1], settings):
                # nobody to tell: marked so it does not wait forever
                log.warning(
                    "escalations.notify.skipped",
                    escalation_id=str(row[0].id),
                    reason="no account manager and no admin addresses",
                )
                done.append(row)
        for escalation, _organization in done:
            escalation.notified_at = now
            session.add(escalation)
        await session.flush()
        sent_total += handled
        if handled < len(messages):
            pending = len(messages) - handled
            log.warning("escalations.notify.failed", sent=sent_total, pending=pending)
            return NotifyResult(sent=sent_total, pending=pending)
        log.info("escalations.notify.succeeded", sent=handled)
