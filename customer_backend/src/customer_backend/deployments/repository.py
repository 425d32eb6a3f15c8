"""Queries of the deployments domain."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import text, update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import LocalDeploymentStatus
from customer_backend.deployments.models import DeploymentHistory, ScheduledDeployment

DEPLOYMENT_LOCK_KEY = 0x57_52_4B_44_45_50
"""Advisory lock that serialises whatever starts or stops a deployment ("WRKDEP")."""

ACTIVE_DEPLOYMENT_STATUSES = (LocalDeploymentStatus.SCHEDULED, LocalDeploymentStatus.IN_PROGRESS)


async def lock_deployments(session: AsyncSession) -> None:
    """Hold the deployment lock until the transaction ends.

    Scheduling, cancelling and rollbacks take it before checking that nothing else is active,
    so of two concurrent requests exactly one finds the way clear. An advisory lock (not a row
    lock on ``installation_state``) keeps the agent's frequent polls, which update that row,
    from ever waiting on an admin.
    """
    await session.exec(  # type: ignore[call-overload]
        text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=DEPLOYMENT_LOCK_KEY)
    )


async def get_deployment(
    session: AsyncSession, deployment_id: uuid.UUID, *, for_update: bool = False
) -> ScheduledDeployment | None:
    """The deployment, re-read from the database (and locked) when ``for_update``."""
    statement = select(ScheduledDeployment).where(ScheduledDeployment.id == deployment_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    result = await session.exec(statement)
    return result.first()


async def active_deployment(session: AsyncSession) -> ScheduledDeployment | None:
    """A deployment that is scheduled or in progress, if any."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(col(ScheduledDeployment.status).in_(ACTIVE_DEPLOYMENT_STATUSES))
        .order_by(col(ScheduledDeployment.updated_at).desc())
        .limit(1)
    )
    return result.first()


async def deployments_with_statuses(
    session: AsyncSession, statuses: Collection[str]
) -> list[ScheduledDeployment]:
    """Deployments in ``statuses``, newest release first."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(col(ScheduledDeployment.status).in_(list(statuses)))
        .order_by(col(ScheduledDeployment.received_at).desc())
    )
    return list(result.all())


async def history(session: AsyncSession, *, limit: int, offset: int = 0) -> list[DeploymentHistory]:
    """Deployments and rollbacks that ran, newest first.

    Both keys descend, so that the index on (deployed_at, id) read backwards gives the order
    itself: with the id ascending, a page deep in a long history sorted the whole table."""
    result = await session.exec(
        select(DeploymentHistory)
        .order_by(col(DeploymentHistory.deployed_at).desc(), col(DeploymentHistory.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(result.all())


async def history_count(session: AsyncSession) -> int:
    """How many deployments and rollbacks ran."""
    result = await session.exec(select(func.count()).select_from(DeploymentHistory))
    return int(result.one())


async def deployments_by_version(
    session: AsyncSession, versions: Collection[str]
) -> dict[str, ScheduledDeployment]:
    """The latest received deployment of each of ``versions``."""
    if not versions:
        return {}
    result = await session.exec(
        select(ScheduledDeployment)
        .where(col(ScheduledDeployment.version).in_(list(versions)))
        .order_by(col(ScheduledDeployment.received_at))
    )
    # oldest first, so each version ends up with its latest deployment
    return {deployment.version: deployment for deployment in result.all()}


async def latest_deployment_of_version(
    session: AsyncSession, version: str
) -> ScheduledDeployment | None:
    """The most recently received deployment of ``version``."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(ScheduledDeployment.version == version)
        .order_by(col(ScheduledDeployment.received_at).desc())
    )
    return result.first()


async def config_revision_of_version(session: AsyncSession, version: str) -> int | None:
    """The essential configuration revision ``version`` last ran with successfully."""
    result = await session.exec(
        select(DeploymentHistory.config_revision)
        .where(
            DeploymentHistory.version == version,
            DeploymentHistory.status == LocalDeploymentStatus.SUCCESS,
            col(DeploymentHistory.config_revision).is_not(None),
        )
        .order_by(
            col(DeploymentHistory.is_current).desc(), col(DeploymentHistory.deployed_at).desc()
        )
    )
    return result.first()


async def forced_deployments_due(
    session: AsyncSession, *, deadline_before: datetime
) -> list[ScheduledDeployment]:
    """Forced deployments not yet deployed whose deadline is before ``deadline_before``."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(
            col(ScheduledDeployment.is_forced),
            col(ScheduledDeployment.force_deadline).is_not(None),
            col(ScheduledDeployment.force_deadline) <= deadline_before,
            # a release GCC withdrew is no longer due: no reminder, no deadline
            col(ScheduledDeployment.withdrawn_at).is_(None),
            col(ScheduledDeployment.status).not_in(
                [LocalDeploymentStatus.SUCCESS, LocalDeploymentStatus.DEADLINE_EXCEEDED]
            ),
        )
        .order_by(col(ScheduledDeployment.force_deadline))
        .with_for_update(skip_locked=True)
    )
    return list(result.all())


async def version_of_helm_revision(session: AsyncSession, revision: int) -> str | None:
    """The version a Helm revision ran, from the history of successful deployments."""
    result = await session.exec(
        select(DeploymentHistory.version)
        .where(
            DeploymentHistory.helm_revision == revision,
            DeploymentHistory.status == str(LocalDeploymentStatus.SUCCESS),
        )
        .order_by(col(DeploymentHistory.deployed_at).desc())
        .limit(1)
    )
    return result.first()


async def clear_current_history(session: AsyncSession) -> None:
    """No history row is current any more (a new one is about to be)."""
    await session.exec(
        update(DeploymentHistory)
        .where(col(DeploymentHistory.is_current))
        .values(is_current=False)
        .execution_options(synchronize_session=False)
    )


async def chart_keys_with_statuses(
    session: AsyncSession, *, artifact_type: str, statuses: Collection[str]
) -> set[str]:
    """Bucket keys of the artifacts of deployments of one type in ``statuses``."""
    result = await session.exec(
        select(ScheduledDeployment.chart_bucket_path).where(
            ScheduledDeployment.artifact_type == str(artifact_type),
            col(ScheduledDeployment.status).in_([str(status) for status in statuses]),
            col(ScheduledDeployment.chart_bucket_path).is_not(None),
        )
    )
    return {key for key in result.all() if key is not None}
