"""Queries of the releases domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentStatus, ReleaseStatus
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization
from gcc.releases.models import DeploymentTarget, Release

FAILED_DEPLOYMENT_STATUSES = (
    DeploymentStatus.FAILED,
    DeploymentStatus.ROLLED_BACK,
    DeploymentStatus.DEADLINE_EXCEEDED,
)
UNREPORTED_STATUSES = (
    DeploymentStatus.PENDING,
    DeploymentStatus.NOTIFIED,
    DeploymentStatus.WEBHOOK_FAILED,
)
"""Target statuses that mean the customer has reported nothing about the release yet."""


async def get_by_version(
    session: AsyncSession, version: str, *, for_update: bool = False
) -> Release | None:
    """The release of that version."""
    statement = select(Release).where(Release.version == version)
    if for_update:
        # Re-read the row under the lock even when the session already holds a copy.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    result = await session.exec(statement)
    return result.first()


async def published_of_same_precedence(session: AsyncSession, version: str) -> str | None:
    """The version of a published (or deprecated) release other than ``version`` that equals it
    by semver precedence, that is, differs at most in build metadata; None when there is none.
    Takes a lock on that precedence until the transaction ends.

    ``version`` is canonical text: without a ``v`` prefix and, as semver forbids leading
    zeros, equal by precedence exactly when the texts before any ``+`` are equal.
    """
    precedence = version.partition("+")[0]
    # Held until the transaction ends: two publications of the same precedence at once would
    # otherwise each find the other unpublished.
    await session.exec(
        select(func.pg_advisory_xact_lock(func.hashtext("release-precedence:" + precedence)))
    )
    statement = (
        select(Release.version)
        .where(
            func.split_part(Release.version, "+", 1) == precedence,
            Release.version != version,
            Release.status != str(ReleaseStatus.DRAFT),
        )
        .limit(1)
    )
    result = await session.exec(statement)
    return result.first()


async def get_by_id(session: AsyncSession, release_id: uuid.UUID) -> Release | None:
    """The release of that id."""
    return await session.get(Release, release_id)


async def list_newest_first(session: AsyncSession) -> Sequence[Release]:
    """Every release, most recently created first."""
    result = await session.exec(
        select(Release).order_by(col(Release.created_at).desc(), col(Release.version).desc())
    )
    return result.all()


@dataclass(frozen=True)
class TargetCounts:
    """How the targets of one release stand."""

    total: int = 0
    acknowledged: int = 0
    webhook_failed: int = 0
    succeeded: int = 0
    failed: int = 0


async def target_counts(
    session: AsyncSession, release_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, TargetCounts]:
    """Target counts per release, for the given releases."""
    ids = list(release_ids)
    if not ids:
        return {}
    target = DeploymentTarget
    statement = (
        select(  # type: ignore[call-overload]
            target.release_id,
            func.count(),
            func.count().filter(col(target.webhook_acked).is_(True)),
            func.count().filter(col(target.webhook_failed).is_(True)),
            func.count().filter(col(target.status) == DeploymentStatus.SUCCESS),
            func.count().filter(col(target.status).in_(FAILED_DEPLOYMENT_STATUSES)),
        )
        .where(col(target.release_id).in_(ids))
        .group_by(target.release_id)
    )
    result = await session.exec(statement)
    return {row[0]: TargetCounts(*row[1:]) for row in result.all()}


async def targets_with_organizations(
    session: AsyncSession, release_id: uuid.UUID
) -> Sequence[tuple[DeploymentTarget, str, str]]:
    """Every target of a release with its organization's name and deployment type, by name."""
    result = await session.exec(
        select(DeploymentTarget, Organization.name, Organization.deployment_type)
        .join(Organization, col(Organization.id) == col(DeploymentTarget.organization_id))
        .where(DeploymentTarget.release_id == release_id)
        .order_by(col(Organization.name))
    )
    return result.all()


# A target whose wave is open is due now (its wave notified now); one of a later wave waits,
# not due, until its wave opens (gcc.rollouts). The organization's health is recorded as it
# was when the wave was notified, for the rollout's health gate.
_INSERT_TARGETS = text(
    """
    INSERT INTO deployment_target (
        id, release_id, organization_id, webhook_id, webhook_sent, webhook_acked,
        webhook_failed, webhook_attempts, next_attempt_at, status, wave, wave_notified_at,
        health_before, created_at, updated_at
    )
    SELECT gen_random_uuid(), :release_id, wanted.organization_id,
           'msg_' || replace(gen_random_uuid()::text, '-', ''),
           false, false, false, 0,
           CASE WHEN wanted.wave <= :open_wave THEN CAST(:now AS timestamptz) END,
           :status, wanted.wave,
           CASE WHEN wanted.wave <= :open_wave THEN CAST(:now AS timestamptz) END,
           CASE WHEN wanted.wave <= :open_wave THEN organization.health_status END,
           :now, :now
    FROM unnest(CAST(:organization_ids AS uuid[]), CAST(:waves AS integer[]))
         AS wanted(organization_id, wave)
    JOIN organization ON organization.id = wanted.organization_id
    ON CONFLICT ON CONSTRAINT uq_target_release_org DO NOTHING
    """
)


async def insert_targets(
    session: AsyncSession,
    *,
    release_id: uuid.UUID,
    organization_ids: Sequence[uuid.UUID],
    now: datetime,
    waves: Sequence[int] | None = None,
    open_wave: int = 0,
) -> None:
    """Insert a pending target per organization in one statement: due now when its wave
    (``waves``, in the order of ``organization_ids``; all 0 without) is at most ``open_wave``,
    waiting for its wave otherwise.

    Each target gets a fresh ``webhook-id`` (``msg_`` and 32 hex digits), kept for every retry
    of its delivery. One ``INSERT ... SELECT FROM unnest`` keeps ten thousand targets to a
    single round trip.
    """
    if not organization_ids:
        return
    await session.exec(
        _INSERT_TARGETS,  # type: ignore[call-overload]
        params={
            "release_id": release_id,
            "organization_ids": list(organization_ids),
            "waves": list(waves) if waves is not None else [0] * len(organization_ids),
            "open_wave": open_wave,
            "now": now,
            "status": str(DeploymentStatus.PENDING),
        },
    )


async def releases_awaiting(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[Release]:
    """Published releases targeted at the organization that it has neither acknowledged nor
    reported a status for, oldest first."""
    result = await session.exec(
        select(Release)
        .join(DeploymentTarget, col(DeploymentTarget.release_id) == col(Release.id))
        .where(
            DeploymentTarget.organization_id == organization_id,
            col(DeploymentTarget.webhook_acked).is_(False),
            col(DeploymentTarget.status).in_(UNREPORTED_STATUSES),
            col(DeploymentTarget.wave_notified_at).is_not(None),
            Release.status == ReleaseStatus.PUBLISHED,
        )
        .order_by(col(Release.published_at), col(Release.version))
    )
    return result.all()


async def withdrawn_awaiting(
    session: AsyncSession, organization_id: uuid.UUID
) -> Sequence[Release]:
    """Withdrawn releases the organization was notified of and has not acknowledged the
    withdrawal of, oldest first."""
    result = await session.exec(
        select(Release)
        .join(DeploymentTarget, col(DeploymentTarget.release_id) == col(Release.id))
        .where(
            DeploymentTarget.organization_id == organization_id,
            col(DeploymentTarget.webhook_acked).is_(False),
            col(DeploymentTarget.wave_notified_at).is_not(None),
            col(Release.withdrawn_at).is_not(None),
        )
        .order_by(col(Release.withdrawn_at), col(Release.version))
    )
    return result.all()


async def get_target(
    session: AsyncSession, *, release_id: uuid.UUID, organization_id: uuid.UUID
) -> DeploymentTarget | None:
    """The deployment target of a release at an organization, locked for this transaction
    (two reports for one target are applied one after the other)."""
    result = await session.exec(
        select(DeploymentTarget)
        .where(
            DeploymentTarget.release_id == release_id,
            DeploymentTarget.organization_id == organization_id,
        )
        .with_for_update()
    )
    return result.first()


@dataclass(frozen=True)
class DeliveryCounts:
    """Where the targets of one release stand, each counted once."""

    acknowledged: int = 0
    retrying: int = 0
    pending: int = 0
    failed: int = 0
    withheld: int = 0
    """Organizations a gate held back (an open license or minimum-version escalation)."""
    scheduled: int = 0
    in_progress: int = 0
    succeeded: int = 0
    deployment_failed: int = 0
    rolled_back: int = 0


async def delivery_counts(session: AsyncSession, release_id: uuid.UUID) -> DeliveryCounts:
    """A release's deliveries (acknowledged, retrying, pending, failed), the organizations
    its gates hold back, and the deployments customers reported, in two queries."""
    target = DeploymentTarget
    acked, failed = col(target.webhook_acked), col(target.webhook_failed)
    unsettled = acked.is_(False) & failed.is_(False)
    status = col(target.status)
    row = (
        await session.exec(
            select(  # type: ignore[call-overload]
                func.count().filter(acked.is_(True)),
                func.count().filter(unsettled & (col(target.webhook_attempts) > 0)),
                func.count().filter(unsettled & (col(target.webhook_attempts) == 0)),
                func.count().filter(failed.is_(True)),
                func.count().filter(status == DeploymentStatus.SCHEDULED),
                func.count().filter(status == DeploymentStatus.IN_PROGRESS),
                func.count().filter(status == DeploymentStatus.SUCCESS),
                func.count().filter(
                    status.in_([DeploymentStatus.FAILED, DeploymentStatus.DEADLINE_EXCEEDED])
                ),
                func.count().filter(status == DeploymentStatus.ROLLED_BACK),
            ).where(target.release_id == release_id)
        )
    ).one()
    withheld = (
        await session.exec(
            select(func.count()).where(
                col(Escalation.release_id) == release_id,
                col(Escalation.resolved_at).is_(None),
                col(Escalation.type).in_(["LICENSE_EXPIRED", "MIN_VERSION_BLOCKED"]),
            )
        )
    ).one()
    return DeliveryCounts(
        acknowledged=row[0],
        retrying=row[1],
        pending=row[2],
        failed=row[3],
        withheld=int(withheld),
        scheduled=row[4],
        in_progress=row[5],
        succeeded=row[6],
        deployment_failed=row[7],
        rolled_back=row[8],
    )


async def targets_of_organization(
    session: AsyncSession, organization_id: uuid.UUID, *, limit: int
) -> Sequence[tuple[DeploymentTarget, str]]:
    """The organization's deployment targets with their release's version, newest first."""
    result = await session.exec(
        select(DeploymentTarget, Release.version)
        .join(Release, col(Release.id) == col(DeploymentTarget.release_id))
        .where(DeploymentTarget.organization_id == organization_id)
        .order_by(col(DeploymentTarget.created_at).desc())
        .limit(limit)
    )
    return result.all()


async def unacknowledged_targets(
    session: AsyncSession, release_id: uuid.UUID, *, limit: int
) -> Sequence[tuple[DeploymentTarget, str]]:
    """Targets of a release whose webhook was tried and not acknowledged (retrying or failed),
    with their organization's name, failed first, then by name."""
    result = await session.exec(
        select(DeploymentTarget, Organization.name)
        .join(Organization, col(Organization.id) == col(DeploymentTarget.organization_id))
        .where(
            DeploymentTarget.release_id == release_id,
            col(DeploymentTarget.webhook_acked).is_(False),
            col(DeploymentTarget.webhook_attempts) > 0,
        )
        .order_by(col(DeploymentTarget.webhook_failed).desc(), col(Organization.name))
        .limit(limit)
    )
    return result.all()


async def statuses_of_versions(session: AsyncSession, versions: Iterable[str]) -> dict[str, str]:
    """Release status by version, for the versions that have a release."""
    wanted = list(set(versions))
    if not wanted:
        return {}
    result = await session.exec(
        select(Release.version, Release.status).where(col(Release.version).in_(wanted))
    )
    return dict(result.all())
