"""Queries of webhook delivery: claiming due targets and writing outcomes back in bulk.

A fan-out touches thousands of rows, so every statement here works on a whole batch at once
(``unnest`` of arrays: one round trip whatever the batch size) instead of flushing ORM objects
row by row.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, DeploymentStatus
from gcc.artifacts.models import Artifact
from gcc.releases.models import Release

_CLAIM_DUE = sa.text(
    """
    UPDATE deployment_target AS target
    SET lease_expires_at = :lease_until, updated_at = :now
    WHERE target.id IN (
        SELECT id FROM deployment_target
        WHERE webhook_acked = false
          AND webhook_failed = false
          AND next_attempt_at <= :now
          AND (lease_expires_at IS NULL OR lease_expires_at < :now)
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING target.id, target.release_id
    """
)


async def claim_due_targets(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Lease up to ``limit`` due targets in one statement; returns (target id, release id).

    ``SKIP LOCKED`` lets two dispatchers run at once without waiting on, or taking, each
    other's rows.
    """
    result = await session.exec(
        _CLAIM_DUE,  # type: ignore[call-overload]
        params={"now": now, "lease_until": lease_until, "limit": limit},
    )
    return [(row.id, row.release_id) for row in result]


# The data-modifying CTE renews the lease of the targets this batch still has to send (a
# redelivered task finds acknowledged or rescheduled ones and leaves them alone), and the outer
# query reads everything a webhook needs in the same round trip. The outer query sees the rows
# as they were before the update, which is all it reads from them.
_TAKE_BATCH = sa.text(
    """
    WITH taken AS (
        UPDATE deployment_target
        SET lease_expires_at = :lease_until, updated_at = :now
        WHERE id = ANY(:ids)
          AND webhook_acked = false
          AND webhook_failed = false
          AND next_attempt_at <= :now
        RETURNING id
    )
    SELECT target.id AS target_id,
           target.webhook_id,
           target.webhook_attempts,
           target.release_id,
           organization.id AS organization_id,
           organization.name AS organization_name,
           organization.webhook_endpoint,
           organization.webhook_secret,
           organization.previous_webhook_secret,
           organization.previous_secret_expires_at,
           organization.deleted_at AS organization_deleted_at
    FROM taken
    JOIN deployment_target AS target ON target.id = taken.id
    JOIN organization ON organization.id = target.organization_id
    """
)


@dataclass(frozen=True)
class TakenTarget:
    """A target this batch will send, with its organization's delivery settings."""

    target_id: uuid.UUID
    webhook_id: str
    webhook_attempts: int
    release_id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    webhook_endpoint: str
    webhook_secret: str
    previous_webhook_secret: str | None
    previous_secret_expires_at: datetime | None
    organization_deleted_at: datetime | None


@dataclass(frozen=True)
class ReleaseDigests:
    """A release with the SHA256 of its stored artifacts."""

    release: Release
    chart_sha256: str | None
    compose_sha256: str | None


async def take_batch(
    session: AsyncSession,
    *,
    target_ids: Sequence[uuid.UUID],
    now: datetime,
    lease_until: datetime,
) -> list[TakenTarget]:
    """Renew the lease of the batch's targets that are still due and read them with their
    organizations, in one statement."""
    result = await session.exec(
        _TAKE_BATCH,  # type: ignore[call-overload]
        params={"ids": list(target_ids), "now": now, "lease_until": lease_until},
    )
    return [TakenTarget(**row._asdict()) for row in result]


def _digest_of(artifact_type: ArtifactType) -> sa.ScalarSelect[str]:
    return (
        sa.select(col(Artifact.sha256))
        .where(
            col(Artifact.version) == col(Release.version), col(Artifact.type) == str(artifact_type)
        )
        .scalar_subquery()
    )


async def releases_with_digests(
    session: AsyncSession, release_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, ReleaseDigests]:
    """The releases of a batch (usually one) with their chart and Compose digests."""
    if not release_ids:
        return {}
    result = await session.exec(
        sa.select(  # type: ignore[call-overload]
            Release, _digest_of(ArtifactType.HELM), _digest_of(ArtifactType.COMPOSE)
        ).where(col(Release.id).in_(list(release_ids)))
    )
    return {
        release.id: ReleaseDigests(release, chart_sha256, compose_sha256)
        for release, chart_sha256, compose_sha256 in result
    }


_RECORD_ACKNOWLEDGED = sa.text(
    """
    UPDATE deployment_target AS target
    SET webhook_sent = true,
        webhook_acked = true,
        webhook_failed = false,
        webhook_attempts = target.webhook_attempts + 1,
        webhook_error = NULL,
        acked_at = acknowledged.acked_at,
        next_attempt_at = NULL,
        lease_expires_at = NULL,
        status = CASE WHEN target.status IN (:pending, :webhook_failed) THEN :notified
                      ELSE target.status END,
        updated_at = :now
    FROM unnest(CAST(:ids AS uuid[]), CAST(:acked_at AS timestamptz[]))
         AS acknowledged(id, acked_at)
    WHERE target.id = acknowledged.id
    """
)

_RECORD_ORGANIZATION_ACKS = sa.text(
    """
    UPDATE organization
    SET last_webhook_ack_at = GREATEST(organization.last_webhook_ack_at, latest.acked_at),
        last_seen_at = GREATEST(
            organization.last_seen_at, organization.last_heartbeat_at, latest.acked_at
        )
    FROM (
        SELECT id, max(acked_at) AS acked_at
        FROM unnest(CAST(:ids AS uuid[]), CAST(:acked_at AS timestamptz[])) AS ack(id, acked_at)
        GROUP BY id
    ) AS latest
    WHERE organization.id = latest.id
    """
)


async def record_acknowledged(
    session: AsyncSession,
    *,
    acknowledgements: Sequence[tuple[uuid.UUID, uuid.UUID, datetime]],
    now: datetime,
) -> None:
    """Mark targets acknowledged and move their organizations' ``lastWebhookAck``.

    ``acknowledgements`` holds (target id, organization id, acknowledged at). Two statements
    for the whole batch.
    """
    if not acknowledgements:
        return
    target_ids = [target_id for target_id, _, _ in acknowledgements]
    organization_ids = [organization_id for _, organization_id, _ in acknowledgements]
    times = [acked_at for _, _, acked_at in acknowledgements]
    await session.exec(
        _RECORD_ACKNOWLEDGED,  # type: ignore[call-overload]
        params={
            "ids": target_ids,
            "acked_at": times,
            "now": now,
            "pending": str(DeploymentStatus.PENDING),
            "webhook_failed": str(DeploymentStatus.WEBHOOK_FAILED),
            "notified": str(DeploymentStatus.NOTIFIED),
        },
    )
    await session.exec(
        _RECORD_ORGANIZATION_ACKS,  # type: ignore[call-overload]
        params={"ids": organization_ids, "acked_at": times},
    )


# One statement for every attempt that did not end in a 2xx: the attempt is counted, and the
# target either waits for its next attempt or, when the failure is permanent or the attempts
# are used up, becomes webhookFailed (the organization's updates poll then offers the release).
# A target acknowledged meanwhile by a concurrent duplicate delivery is left alone.
_RECORD_FAILED_ATTEMPTS = sa.text(
    """
    UPDATE deployment_target AS target
    SET webhook_sent = target.webhook_sent OR failure.sent,
        webhook_attempts = target.webhook_attempts + 1,
        webhook_error = failure.error,
        webhook_failed = failure.permanent OR target.webhook_attempts + 1 >= :max_attempts,
        next_attempt_at = CASE
            WHEN failure.permanent OR target.webhook_attempts + 1 >= :max_attempts THEN NULL
            ELSE failure.retry_at END,
        status = CASE
            WHEN (failure.permanent OR target.webhook_attempts + 1 >= :max_attempts)
                 AND target.status = :pending THEN :webhook_failed
            ELSE target.status END,
        lease_expires_at = NULL,
        updated_at = :now
    FROM unnest(
        CAST(:ids AS uuid[]),
        CAST(:errors AS text[]),
        CAST(:sent AS boolean[]),
        CAST(:permanent AS boolean[]),
        CAST(:retry_at AS timestamptz[])
    ) AS failure(id, error, sent, permanent, retry_at)
    WHERE target.id = failure.id AND target.webhook_acked = false
    RETURNING target.id, target.webhook_failed, target.webhook_attempts
    """
)


@dataclass(frozen=True)
class FailedAttempt:
    """One attempt that did not end in a 2xx."""

    target_id: uuid.UUID
    error: str
    sent: bool
    permanent: bool
    retry_at: datetime


async def record_failed_attempts(
    session: AsyncSession,
    *,
    failures: Sequence[FailedAttempt],
    max_attempts: int,
    now: datetime,
) -> dict[uuid.UUID, tuple[bool, int]]:
    """Count failed attempts and reschedule or fail their targets, in one statement.

    Returns, per target updated, whether it is now webhookFailed and its attempt count.
    """
    if not failures:
        return {}
    result = await session.exec(
        _RECORD_FAILED_ATTEMPTS,  # type: ignore[call-overload]
        params={
            "ids": [failure.target_id for failure in failures],
            "errors": [failure.error for failure in failures],
            "sent": [failure.sent for failure in failures],
            "permanent": [failure.permanent for failure in failures],
            "retry_at": [failure.retry_at for failure in failures],
            "max_attempts": max_attempts,
            "now": now,
            "pending": str(DeploymentStatus.PENDING),
            "webhook_failed": str(DeploymentStatus.WEBHOOK_FAILED),
        },
    )
    return {row.id: (row.webhook_failed, row.webhook_attempts) for row in result}


_REQUEUE_FAILED = sa.text(
    """
    UPDATE deployment_target AS target
    SET webhook_failed = false,
        webhook_attempts = 0,
        webhook_error = NULL,
        next_attempt_at = :now,
        lease_expires_at = NULL,
        status = CASE WHEN target.status = :webhook_failed THEN :pending ELSE target.status END,
        updated_at = :now
    FROM organization
    WHERE organization.id = target.organization_id
      AND organization.deleted_at IS NULL
      AND (CAST(:organization AS text) IS NULL OR organization.name = :organization)
      AND target.release_id = :release_id
      AND target.webhook_failed = true
      AND target.webhook_acked = false
    RETURNING organization.name
    """
)


async def requeue_failed(
    session: AsyncSession,
    *,
    release_id: uuid.UUID,
    organization_name: str | None,
    now: datetime,
) -> list[str]:
    """Make the release's failed deliveries due again with a fresh allowance of attempts;
    returns their organizations' names."""
    result = await session.exec(
        _REQUEUE_FAILED,  # type: ignore[call-overload]
        params={
            "release_id": release_id,
            "organization": organization_name,
            "now": now,
            "pending": str(DeploymentStatus.PENDING),
            "webhook_failed": str(DeploymentStatus.WEBHOOK_FAILED),
        },
    )
    return sorted(row.name for row in result)
