"""Queries of phased rollouts: the rollouts to evaluate, the counts of a release's waves, and
opening a wave.

The counts of every wave of a release are one aggregate over its targets joined to their
organizations by primary key: a release targeting 100,000 organizations is one pass over its
targets (``ix_deployment_target_release_id``), whatever the number of waves.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentStatus, HealthStatus, ReleaseStatus, RolloutState
from gcc.releases.models import Release, Rollout

REPORTED_FAILED = (DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK)
"""Deployments the failure gate counts."""
UNREPORTED = (DeploymentStatus.PENDING, DeploymentStatus.NOTIFIED, DeploymentStatus.WEBHOOK_FAILED)
REACHABLE = (HealthStatus.ONLINE, HealthStatus.DEGRADED)
"""An organization in these states that has not deployed yet is pending; else unknown."""
UNHEALTHY = (HealthStatus.DEGRADED, HealthStatus.OFFLINE, HealthStatus.CRITICAL)

# Health as a rank, so that "turned worse than before" is one comparison; unknown has none
# (an organization never seen, or without heartbeats, cannot regress).
_RANK = """CASE {column} WHEN 'online' THEN 0 WHEN 'degraded' THEN 1
                         WHEN 'offline' THEN 2 WHEN 'critical' THEN 3 END"""
_BEFORE = _RANK.format(column="t.health_before")
_NOW = _RANK.format(column="o.health_status")

_WAVE_COUNTS = sa.text(
    f"""
    SELECT t.wave,
           count(*) AS targets,
           count(*) FILTER (WHERE t.status = :success) AS deployed,
           count(*) FILTER (WHERE t.status = ANY(CAST(:failed AS text[]))) AS failed,
           count(*) FILTER (WHERE t.status IN (:scheduled, :in_progress)) AS in_progress,
           count(*) FILTER (WHERE t.status = ANY(CAST(:unreported AS text[]))
                            AND o.health_status = ANY(CAST(:reachable AS text[]))) AS pending,
           count(*) FILTER (WHERE t.status = ANY(CAST(:unreported AS text[]))
                            AND NOT o.health_status = ANY(CAST(:reachable AS text[])))
               AS unknown,
           count(*) FILTER (WHERE t.status = :success AND {_BEFORE} <= 1) AS watched,
           count(*) FILTER (WHERE t.status = :success AND {_BEFORE} <= 1
                            AND {_NOW} > {_BEFORE}) AS regressed
    FROM deployment_target AS t
    JOIN organization AS o ON o.id = t.organization_id
    WHERE t.release_id = :release_id
    GROUP BY t.wave
    """  # noqa: S608 - fixed SQL fragments, values are bound parameters
)


@dataclass(frozen=True)
class WaveTally:
    """How the organizations of one wave stand (see ``contracts.WaveCounts``)."""

    targets: int = 0
    deployed: int = 0
    failed: int = 0
    in_progress: int = 0
    pending: int = 0
    unknown: int = 0
    watched: int = 0
    """Deployed and online or degraded before: those the health gate looks at."""
    regressed: int = 0


async def wave_tallies(session: AsyncSession, release_id: uuid.UUID) -> dict[int, WaveTally]:
    """The tally of each wave of a release that has a target, in one statement."""
    result = await session.exec(
        _WAVE_COUNTS,  # type: ignore[call-overload]
        params={
            "release_id": release_id,
            "success": str(DeploymentStatus.SUCCESS),
            "failed": [str(status) for status in REPORTED_FAILED],
            "scheduled": str(DeploymentStatus.SCHEDULED),
            "in_progress": str(DeploymentStatus.IN_PROGRESS),
            "unreported": [str(status) for status in UNREPORTED],
            "reachable": [str(status) for status in REACHABLE],
        },
    )
    return {row.wave: WaveTally(*row[1:]) for row in result}


# Opening a wave only moves the rollout (current_wave); the targets of the waves it opened are
# made due here, a batch per transaction (the partial index ix_target_waiting holds only the
# waiting ones), so that the 70,000 targets of a last wave never hold one long transaction and
# the pump starts on the first batch while the next is written. A batch is claimed with SKIP
# LOCKED: two workers opening at once never touch the same target.
_OPEN_WAITING = sa.text(
    """
    UPDATE deployment_target AS t
    SET next_attempt_at = :now, wave_notified_at = :now, health_before = o.health_status,
        updated_at = :now
    FROM organization AS o
    WHERE o.id = t.organization_id
      AND t.id IN (
        SELECT waiting.id FROM deployment_target AS waiting
        JOIN rollout AS r ON r.release_id = waiting.release_id
        WHERE waiting.wave_notified_at IS NULL
          AND waiting.wave <= r.current_wave
          AND r.state <> :withdrawn
          AND (CAST(:release_id AS uuid) IS NULL OR r.release_id = :release_id)
        LIMIT :limit
        FOR UPDATE OF waiting SKIP LOCKED
      )
    """
)


async def open_waiting_targets(
    session: AsyncSession, *, now: datetime, limit: int, release_id: uuid.UUID | None = None
) -> int:
    """Make due up to ``limit`` targets of waves their rollout opened (of one release, or of
    every rollout), recording their organizations' health; how many."""
    result = await (await session.connection()).execute(
        _OPEN_WAITING,
        {
            "now": now,
            "limit": limit,
            "release_id": release_id,
            "withdrawn": str(RolloutState.WITHDRAWN),
        },
    )
    return result.rowcount


_FIRST_OF = sa.text(
    f"""
    SELECT t.organization_id FROM deployment_target AS t
    JOIN organization AS o ON o.id = t.organization_id
    WHERE t.release_id = :release_id AND t.wave = :wave
      AND (t.status = ANY(CAST(:failed AS text[]))
           OR (t.status = :success AND {_BEFORE} <= 1 AND {_NOW} > {_BEFORE}))
    ORDER BY o.name LIMIT 1
    """  # noqa: S608 - fixed SQL fragments, values are bound parameters
)


async def first_culprit(
    session: AsyncSession, *, release_id: uuid.UUID, wave: int
) -> uuid.UUID | None:
    """An organization of the wave that failed or regressed (the first by name)."""
    result = await session.exec(
        _FIRST_OF,  # type: ignore[call-overload]
        params={
            "release_id": release_id,
            "wave": wave,
            "failed": [str(status) for status in REPORTED_FAILED],
            "success": str(DeploymentStatus.SUCCESS),
        },
    )
    row = result.first()
    return None if row is None else row[0]


async def claim_running(session: AsyncSession) -> Sequence[tuple[Rollout, Release]]:
    """Running rollouts with their releases, locked; rows another evaluation holds are
    skipped, so two beats at once never advance one rollout twice."""
    result = await session.exec(
        select(Rollout, Release)
        .join(Release, col(Release.id) == col(Rollout.release_id))
        .where(Rollout.state == str(RolloutState.RUNNING))
        .with_for_update(of=Rollout, skip_locked=True)
    )
    return result.all()


async def get_rollout(session: AsyncSession, release_id: uuid.UUID) -> Rollout | None:
    """A release's rollout, locked for this transaction."""
    result = await session.exec(
        select(Rollout)
        .where(Rollout.release_id == release_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.first()


# The organizations already notified get the withdrawal as a new webhook (a new webhook-id, a
# fresh allowance of attempts); those never notified are cancelled and never hear of it.
_WITHDRAW_NOTIFIED = sa.text(
    """
    UPDATE deployment_target
    SET webhook_id = 'msg_' || replace(gen_random_uuid()::text, '-', ''),
        webhook_sent = false, webhook_acked = false, webhook_failed = false,
        webhook_attempts = 0, webhook_error = NULL, lease_expires_at = NULL,
        next_attempt_at = :now, updated_at = :now
    WHERE release_id = :release_id AND wave_notified_at IS NOT NULL
    """
)
_CANCEL_WAITING = sa.text(
    """
    UPDATE deployment_target SET status = :cancelled, completed_at = :now, updated_at = :now
    WHERE release_id = :release_id AND wave_notified_at IS NULL
    """
)


async def withdraw_targets(
    session: AsyncSession, *, release_id: uuid.UUID, now: datetime
) -> tuple[int, int]:
    """Make the withdrawal due for the notified targets and cancel the waiting ones; the
    number of each."""
    connection = await session.connection()
    notified = await connection.execute(_WITHDRAW_NOTIFIED, {"release_id": release_id, "now": now})
    waiting = await connection.execute(
        _CANCEL_WAITING,
        {"release_id": release_id, "now": now, "cancelled": str(DeploymentStatus.CANCELLED)},
    )
    return notified.rowcount, waiting.rowcount


async def published_versions(session: AsyncSession) -> Sequence[str]:
    """The versions of the published releases."""
    result = await session.exec(
        select(Release.version).where(Release.status == ReleaseStatus.PUBLISHED)
    )
    return result.all()
