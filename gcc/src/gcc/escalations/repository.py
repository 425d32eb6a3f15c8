"""Queries of the escalations domain."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, text
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization

EscalationRow = tuple[Escalation, Organization]
"""An escalation and its organization."""


def _with_context() -> Any:
    return select(Escalation, Organization).join(
        Organization, col(Organization.id) == col(Escalation.organization_id)
    )


def _filtered(
    statement: Any, *, type_: str | None, organization_name: str | None, is_open: bool | None
) -> Any:
    if type_ is not None:
        statement = statement.where(Escalation.type == type_)
    if organization_name is not None:
        statement = statement.where(Organization.name == organization_name)
    if is_open is True:
        statement = statement.where(col(Escalation.resolved_at).is_(None))
    elif is_open is False:
        statement = statement.where(col(Escalation.resolved_at).is_not(None))
    return statement


async def ids_starting_with(session: AsyncSession, prefix: str, *, limit: int) -> list[uuid.UUID]:
    """At most ``limit`` escalation ids whose text form starts with ``prefix`` (lowercase hex
    and hyphens)."""
    rows = await session.exec(
        select(Escalation.id)
        .where(func.cast(col(Escalation.id), String).startswith(prefix, autoescape=True))
        .order_by(col(Escalation.id))
        .limit(limit)
    )
    return list(rows)


async def list_with_context(
    session: AsyncSession,
    *,
    type_: str | None = None,
    organization_name: str | None = None,
    is_open: bool | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[Sequence[EscalationRow], int]:
    """Matching escalations, newest first, at most ``limit`` after skipping ``offset``; and
    how many match in all."""
    rows = await session.exec(
        _filtered(
            _with_context(), type_=type_, organization_name=organization_name, is_open=is_open
        )
        .order_by(col(Escalation.escalated_at).desc(), col(Escalation.id))
        .offset(offset)
        .limit(limit)
    )
    count_statement = _filtered(
        select(func.count())
        .select_from(Escalation)
        .join(Organization, col(Organization.id) == col(Escalation.organization_id)),
        type_=type_,
        organization_name=organization_name,
        is_open=is_open,
    )
    total = (await session.exec(count_statement)).one()
    return [tuple(row) for row in rows.all()], int(total)


async def get_with_context(
    session: AsyncSession, escalation_id: uuid.UUID, *, for_update: bool = False
) -> EscalationRow | None:
    """One escalation with its organization."""
    statement = _with_context().where(Escalation.id == escalation_id)
    if for_update:
        statement = statement.with_for_update(of=Escalation)
    row = (await session.exec(statement)).first()
    return None if row is None else tuple(row)


async def claim_unnotified(session: AsyncSession, *, limit: int) -> Sequence[EscalationRow]:
    """The oldest escalations not emailed yet, locked for this transaction; rows another run
    holds are skipped, so two overlapping runs never email the same escalation."""
    rows = await session.exec(
        _with_context()
        .where(col(Escalation.notified_at).is_(None))
        .order_by(col(Escalation.escalated_at), col(Escalation.id))
        .limit(limit)
        .with_for_update(of=Escalation, skip_locked=True)
    )
    return [tuple(row) for row in rows.all()]


_RESOLVE_MANY = text(
    """
    UPDATE escalation
    SET resolved_at = :now, resolution = given.resolution
    FROM unnest(CAST(:ids AS uuid[]), CAST(:resolutions AS text[])) AS given(id, resolution)
    WHERE escalation.id = given.id AND escalation.resolved_at IS NULL
    """
)


async def resolve_many(
    session: AsyncSession, resolutions: Mapping[uuid.UUID, str], *, now: datetime
) -> None:
    """Resolve each open escalation with its own resolution text, in one statement."""
    if not resolutions:
        return
    await session.exec(
        _RESOLVE_MANY,  # type: ignore[call-overload]
        params={
            "now": now,
            "ids": list(resolutions),
            "resolutions": list(resolutions.values()),
        },
    )
