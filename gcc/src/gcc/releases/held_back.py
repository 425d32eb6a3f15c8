"""Queries of releases a gate held back: their open escalations, claimed in batches, and
their releases, shared against deprecation (see :mod:`gcc.releases.gate_recheck`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ReleaseStatus
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization
from gcc.organizations.repository import Candidate
from gcc.releases.models import Release


@dataclass(frozen=True)
class HeldBack:
    """An open escalation of a release a gate held back, and the organization it was held from."""

    escalation_id: uuid.UUID
    escalation_type: str
    release_id: uuid.UUID
    organization: Candidate


async def claim_held_back(
    session: AsyncSession, *, types: Sequence[str], after: uuid.UUID | None, limit: int
) -> list[HeldBack]:
    """Up to ``limit`` open escalations of these types, by id after ``after``, whose release is
    published and whose organization is active; locked for this transaction.

    Rows another transaction holds are skipped (``FOR UPDATE SKIP LOCKED``), so two runs at
    once never handle the same escalation.
    """
    statement = (
        select(  # type: ignore[call-overload]
            Escalation.id,
            Escalation.type,
            Escalation.release_id,
            Organization.id,
            Organization.name,
            Organization.deployment_type,
            Organization.license_expires_at,
            Organization.current_version,
            Organization.ring,
        )
        .join(Organization, col(Organization.id) == col(Escalation.organization_id))
        .join(Release, col(Release.id) == col(Escalation.release_id))
        .where(
            col(Escalation.resolved_at).is_(None),
            col(Escalation.type).in_(list(types)),
            Release.status == ReleaseStatus.PUBLISHED,
            col(Organization.deleted_at).is_(None),
        )
    )
    if after is not None:
        statement = statement.where(col(Escalation.id) > after)
    result = await session.exec(
        statement.order_by(col(Escalation.id))
        .limit(limit)
        .with_for_update(of=Escalation, skip_locked=True)
    )
    return [
        HeldBack(
            escalation_id=row[0],
            escalation_type=row[1],
            release_id=row[2],
            organization=Candidate(*row[3:]),
        )
        for row in result.all()
    ]


async def share_published(
    session: AsyncSession, release_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Release]:
    """Those of the releases that are published, locked against deprecation (``FOR SHARE``)
    until this transaction ends."""
    ids = list(set(release_ids))
    if not ids:
        return {}
    result = await session.exec(
        select(Release)
        .where(col(Release.id).in_(ids), Release.status == ReleaseStatus.PUBLISHED)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return {release.id: release for release in result.all()}
