"""Recording who changed what, and reading the trail back a page at a time.

Every service that changes something an operator is answerable for takes the ``actor`` it acts
for and records one entry in the same transaction as the change: a change that rolls back leaves
no entry, and an entry never describes a change that did not happen.
"""

from __future__ import annotations

import base64
import getpass
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ActorKind, AuditAction, AuditEntryView, AuditList
from gcc.audit import repository
from gcc.audit.models import AuditEntry
from gcc.audit.repository import AuditFilter
from servicekit.errors import InvalidInput
from timekeeping import Clock

log = structlog.get_logger(__name__)

OPERATOR_TOKEN_ACTOR = "operator token"  # noqa: S105 - the name shown for the shared token
CI_TOKEN_ACTOR = "ci token"  # noqa: S105 - the name shown for the CI token


@dataclass(frozen=True)
class Actor:
    """Who a change is made for: a named operator, a shared token or a command line."""

    kind: ActorKind
    name: str
    operator_id: uuid.UUID | None = None

    @classmethod
    def operator_token(cls) -> Actor:
        """The shared operator token (automation)."""
        return cls(ActorKind.TOKEN, OPERATOR_TOKEN_ACTOR)

    @classmethod
    def ci_token(cls) -> Actor:
        """The CI token."""
        return cls(ActorKind.TOKEN, CI_TOKEN_ACTOR)

    @classmethod
    def command_line(cls) -> Actor:
        """A ``gcc`` command, named after the system user running it."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # a container user with no passwd entry
            user = "unknown"
        return cls(ActorKind.COMMAND, f"command:{user}")

    @classmethod
    def named_operator(cls, operator_id: uuid.UUID, email: str) -> Actor:
        """A signed-in operator."""
        return cls(ActorKind.OPERATOR, email, operator_id)


async def record(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    action: AuditAction,
    organization_name: str | None = None,
    release_version: str | None = None,
    escalation_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry to the trail, in the caller's transaction."""
    entry = AuditEntry(
        occurred_at=clock.now(),
        actor_kind=str(actor.kind),
        actor=actor.name,
        operator_id=actor.operator_id,
        action=str(action),
        organization_name=organization_name,
        release_version=release_version,
        escalation_id=escalation_id,
        details=details,
    )
    session.add(entry)
    await session.flush()
    log.info(
        "audit.record.succeeded",
        action=str(action),
        actor=actor.name,
        organization=organization_name,
        release=release_version,
    )
    return entry


def entry_view(entry: AuditEntry) -> AuditEntryView:
    """The public view of one entry."""
    return AuditEntryView(
        id=entry.id,
        occurred_at=entry.occurred_at,
        actor_kind=ActorKind(entry.actor_kind),
        actor=entry.actor,
        action=AuditAction(entry.action),
        organization_name=entry.organization_name,
        release_version=entry.release_version,
        escalation_id=entry.escalation_id,
        details=entry.details,
    )


def encode_cursor(entry: AuditEntry) -> str:
    """An opaque cursor naming the position just after ``entry`` (newest first)."""
    raw = f"{entry.occurred_at.isoformat()}|{entry.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor of :func:`encode_cursor` names; 422 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        occurred_text, id_text = base64.urlsafe_b64decode(padded).decode().split("|")
        occurred_at = datetime.fromisoformat(occurred_text)
        if occurred_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return occurred_at, uuid.UUID(id_text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The cursor is not one this API returned.", field="before") from exc


async def list_entries(
    session: AsyncSession,
    *,
    actor: str | None = None,
    organization_name: str | None = None,
    release_version: str | None = None,
    action: AuditAction | None = None,
    before: str | None = None,
    limit: int = 50,
) -> AuditList:
    """Entries newest first, filtered, a page of ``limit`` older than the ``before`` cursor.

    Keyset paging: a page deep in a long trail costs what the first one does.
    """
    position = decode_cursor(before) if before else None
    entries = await repository.list_page(
        session,
        AuditFilter(
            actor=actor,
            organization_name=organization_name,
            release_version=release_version,
            action=str(action) if action else None,
        ),
        before=position,
        limit=limit + 1,
    )
    page = list(entries[:limit])
    return AuditList(
        entries=[entry_view(entry) for entry in page],
        next_cursor=encode_cursor(page[-1]) if len(entries) > limit else None,
    )


async def actors(session: AsyncSession) -> list[str]:
    """Every actor that appears in the trail, for the audit page's filter."""
    return await repository.distinct_actors(session)
