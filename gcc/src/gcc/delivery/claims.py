"""Queries of the delivery pump's leases: claiming due targets, renewing and giving back.

A claimed target is leased: no other pump claims it until the lease runs out. The claiming
pump renews the lease while it holds the target and gives it back when it stops.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.delivery.repository import TakenTarget

# The inner selection picks due targets of one lane (first deliveries, or retries) that nobody
# holds: not leased, or leased by someone whose lease ran out (a worker that died), and not
# held by the claiming pump itself (its own lease may have run out while the database was
# away; it must not send those again). ``SKIP LOCKED`` lets several pumps claim at once
# without waiting on each other. The data-modifying CTE leases them; the outer query reads
# everything their webhooks need in the same round trip.
_CLAIM = sa.text(
    """
    WITH claimed AS (
        UPDATE deployment_target AS target
        SET lease_expires_at = :lease_until, updated_at = :now
        WHERE target.id IN (
            SELECT id FROM deployment_target
            WHERE webhook_acked = false
              AND webhook_failed = false
              AND next_attempt_at <= :now
              AND (lease_expires_at IS NULL OR lease_expires_at < :now)
              AND (webhook_attempts > 0) = :retries
              AND NOT (id = ANY(CAST(:held AS uuid[])))
            ORDER BY next_attempt_at
            LIMIT :limit
            FOR UPDATE SKIP LOCKED
        )
        RETURNING target.id
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
    FROM claimed
    JOIN deployment_target AS target ON target.id = claimed.id
    JOIN organization ON organization.id = target.organization_id
    ORDER BY target.next_attempt_at
    """
)

_DUE_EXISTS = sa.text(
    """
    SELECT EXISTS (
        SELECT 1 FROM deployment_target
        WHERE webhook_acked = false
          AND webhook_failed = false
          AND next_attempt_at <= :now
          AND (lease_expires_at IS NULL OR lease_expires_at < :now)
    )
    """
)

_RENEW_LEASES = sa.text(
    """
    UPDATE deployment_target SET lease_expires_at = :lease_until
    WHERE id = ANY(CAST(:ids AS uuid[]))
      AND webhook_acked = false
      AND webhook_failed = false
    """
)

_RELEASE_LEASES = sa.text(
    """
    UPDATE deployment_target SET lease_expires_at = NULL
    WHERE id = ANY(CAST(:ids AS uuid[])) AND lease_expires_at IS NOT NULL
    """
)


async def claim_targets(
    session: AsyncSession,
    *,
    retries: bool,
    limit: int,
    held: Collection[uuid.UUID],
    now: datetime,
    lease_until: datetime,
) -> list[TakenTarget]:
    """Lease up to ``limit`` due targets of one lane (first deliveries, or ``retries``) that
    nobody holds, and read them with their organizations, in one statement."""
    result = await session.exec(
        _CLAIM,  # type: ignore[call-overload]
        params={
            "retries": retries,
            "limit": limit,
            "held": list(held),
            "now": now,
            "lease_until": lease_until,
        },
    )
    return [TakenTarget(**row._asdict()) for row in result]


async def has_due_targets(session: AsyncSession, *, now: datetime) -> bool:
    """Whether some target is due and held by nobody (what beat looks for)."""
    result = await session.exec(_DUE_EXISTS, params={"now": now})  # type: ignore[call-overload]
    return bool(result.scalar_one())


async def renew_leases(
    session: AsyncSession, *, target_ids: Collection[uuid.UUID], lease_until: datetime
) -> None:
    """Move the lease of targets still being delivered to ``lease_until``."""
    if target_ids:
        await session.exec(
            _RENEW_LEASES,  # type: ignore[call-overload]
            params={"ids": list(target_ids), "lease_until": lease_until},
        )


async def release_leases(session: AsyncSession, *, target_ids: Collection[uuid.UUID]) -> None:
    """Give targets back at once (a pump stopping with some not sent)."""
    if target_ids:
        await session.exec(
            _RELEASE_LEASES,  # type: ignore[call-overload]
            params={"ids": list(target_ids)},
        )
