"""Queries of the intake domain: received webhooks and the download state of deployments."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import LocalDeploymentStatus
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake.models import ReceivedWebhook

DOWNLOADABLE_STATUSES = (LocalDeploymentStatus.PENDING, LocalDeploymentStatus.DOWNLOAD_FAILED)
"""A deployment still waiting for its artifact; later statuses need no download."""

# The first 63 bits of a UUID, as a signed bigint, name a PostgreSQL advisory lock.
_ADVISORY_KEY_MASK = (1 << 63) - 1


def advisory_key(value: uuid.UUID) -> int:
    """The advisory lock key of a row id."""
    return value.int & _ADVISORY_KEY_MASK


async def try_advisory_xact_lock(session: AsyncSession, key: int) -> bool:
    """Take a transaction-scoped advisory lock without waiting; False when another holds it."""
    acquired = await session.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(sa.literal(key, sa.BigInteger)))
    )
    return bool(acquired)


async def remember_webhook(
    session: AsyncSession, *, webhook_id: str, release_id: uuid.UUID, now: datetime
) -> bool:
    """Record a webhook id; False when it was seen before."""
    statement = (
        insert(ReceivedWebhook)
        .values(webhook_id=webhook_id, gcc_release_id=release_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["webhook_id"])
        .returning(col(ReceivedWebhook.webhook_id))
    )
    return (await session.exec(statement)).first() is not None


async def insert_deployment_once(
    session: AsyncSession, *, values: dict[str, Any]
) -> uuid.UUID | None:
    """Insert a scheduled deployment unless its GCC release id is known; the new id or None."""
    statement = (
        insert(ScheduledDeployment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["gcc_release_id"])
        .returning(col(ScheduledDeployment.id))
    )
    inserted: uuid.UUID | None = (await session.exec(statement)).scalar_one_or_none()
    return inserted


async def deployment_id_of_release(session: AsyncSession, release_id: uuid.UUID) -> uuid.UUID:
    """The deployment that holds a GCC release (known to exist)."""
    result = await session.exec(
        select(ScheduledDeployment.id).where(ScheduledDeployment.gcc_release_id == release_id)
    )
    return result.one()


async def find_deployment_of_release(
    session: AsyncSession, release_id: uuid.UUID
) -> ScheduledDeployment | None:
    """The deployment that holds a GCC release, None when none does."""
    result = await session.exec(
        select(ScheduledDeployment).where(ScheduledDeployment.gcc_release_id == release_id)
    )
    return result.first()


async def lock_deployment(
    session: AsyncSession, deployment_id: uuid.UUID
) -> ScheduledDeployment | None:
    """The deployment, locked for this transaction."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(ScheduledDeployment.id == deployment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.first()


async def claim_due_downloads(
    session: AsyncSession, *, now: datetime, lease_until: datetime
) -> Sequence[uuid.UUID]:
    """Deployments whose artifact is missing and whose next download time has come.

    Each is leased until ``lease_until`` (its ``next_download_at`` moves there), so the next
    beat does not send it again while the download runs.
    """
    due = (
        select(ScheduledDeployment.id)
        .where(
            col(ScheduledDeployment.status).in_([str(s) for s in DOWNLOADABLE_STATUSES]),
            col(ScheduledDeployment.chart_downloaded).is_(False),
            col(ScheduledDeployment.next_download_at).is_not(None),
            col(ScheduledDeployment.next_download_at) <= now,
        )
        .order_by(col(ScheduledDeployment.next_download_at))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.exec(
        update(ScheduledDeployment)
        .where(col(ScheduledDeployment.id).in_(due))
        .values(next_download_at=lease_until, updated_at=now)
        .returning(col(ScheduledDeployment.id))
    )
    return list(result.scalars().all())


async def mark_downloaded(
    session: AsyncSession,
    *,
    deployment_id: uuid.UUID,
    bucket_key: str,
    attempts: int,
    now: datetime,
    trace_parent: str | None = None,
) -> None:
    """Record a verified download; a ``downloadFailed`` deployment is ``pending`` again.

    With ``trace_parent`` (the download's span) the deployment's trace continues from it.
    """
    continued = {} if trace_parent is None else {"trace_parent": trace_parent}
    await session.exec(
        update(ScheduledDeployment)
        .where(col(ScheduledDeployment.id) == deployment_id)
        .values(
            chart_bucket_path=bucket_key,
            chart_downloaded=True,
            download_attempts=ScheduledDeployment.download_attempts + attempts,
            download_error=None,
            next_download_at=None,
            status=sa.case(
                (
                    col(ScheduledDeployment.status) == str(LocalDeploymentStatus.DOWNLOAD_FAILED),
                    str(LocalDeploymentStatus.PENDING),
                ),
                else_=col(ScheduledDeployment.status),
            ),
            updated_at=now,
            **continued,
        )
    )


async def forget_removed_artifacts(
    session: AsyncSession, *, keys: Iterable[str], now: datetime
) -> int:
    """Deployments waiting for a schedule whose artifact retention removed: not downloaded.

    They are not fetched again by themselves (``next_download_at`` is cleared); scheduling one
    asks for a download first.
    """
    key_list = list(keys)
    if not key_list:
        return 0
    result = await session.exec(
        update(ScheduledDeployment)
        .where(
            col(ScheduledDeployment.chart_bucket_path).in_(key_list),
            col(ScheduledDeployment.status).in_([str(s) for s in DOWNLOADABLE_STATUSES]),
        )
        .values(
            chart_downloaded=False,
            chart_bucket_path=None,
            next_download_at=None,
            download_error="The artifact was removed by retention; it is downloaded again "
            "when needed.",
            updated_at=now,
        )
    )
    return int(result.rowcount)


async def awaited_sha256s(session: AsyncSession) -> set[str]:
    """The SHA256 of every artifact a deployment still waits for (what staging must keep)."""
    result = await session.exec(
        select(ScheduledDeployment.expected_sha256).where(
            col(ScheduledDeployment.status).in_([str(s) for s in DOWNLOADABLE_STATUSES]),
            col(ScheduledDeployment.chart_downloaded).is_(False),
        )
    )
    return {sha256.lower() for sha256 in result.all() if sha256}
