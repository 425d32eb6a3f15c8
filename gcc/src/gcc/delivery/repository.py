"""Queries of webhook delivery: claiming due targets and writing outcomes back in bulk.

A fan-out touches thousands of rows, so every statement here works on a whole group at once
(``unnest`` of arrays: one round trip whatever the group's size) instead of flushing ORM
objects row by row.
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


@dataclass(frozen=True)
class TakenTarget:
    """A target a pump claimed, with its organization's delivery settings."""

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
    """The releases of a group of targets (usually one) with their chart and Compose digests."""
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
    for the whole group.
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


# EXISTS stops at the first pending target of each release; the partial due index holds only
# the pending ones.
_RELEASES_WITH_PENDING = sa.text(
    """
    SELECT wanted.id FROM unnest(CAST(:release_ids AS uuid[])) AS wanted(id)
    WHERE EXISTS (
        SELECT 1 FROM deployment_target AS target
        WHERE target.release_id = wanted.id
          AND target.webhook_acked = false
          AND target.webhook_failed = false
    )
    """
)


async def releases_with_pending_webhooks(
    session: AsyncSession, release_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``release_ids`` that still have a webhook neither acknowledged nor failed."""
    if not release_ids:
        return set()
    result = await session.exec(
        _RELEASES_WITH_PENDING,  # type: ignore[call-overload]
        params={"release_ids": list(release_ids)},
    )
    return {row[0] for row in result}
