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
from gcc.organizations.repository import Candidate
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


_INSERT_TARGETS = text(
    """
    INSERT INTO deployment_target (
        id, release_id, organization_id, webhook_id, webhook_sent, webhook_acked,
        webhook_failed, webhook_attempts, next_attempt_at, status, created_at, updated_at
    )
    SELECT gen_random_uuid(), :release_id, organization_id,
           'msg_' || replace(gen_random_uuid()::text, '-', ''),
           false, false, false, 0, :now, :status, :now, :now
    FROM unnest(CAST(:organization_ids AS uuid[])) AS organization_id
    ON CONFLICT ON CONSTRAINT uq_target_release_org DO NOTHING
    """
)


async def insert_targets(
    session: AsyncSession,
    *,
    release_id: uuid.UUID,
    organization_ids: Sequence[uuid.UUID],
    now: datetime,
) -> None:
    """Insert a pending, due-now target per organization in one statement.

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
            Release.status == ReleaseStatus.PUBLISHED,
        )
        .order_by(col(Release.published_at), col(Release.version))
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
