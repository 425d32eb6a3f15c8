"""Queries of the agent task queue: the claim, status changes, heartbeats and log lines."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentTaskStatus, LocalDeploymentStatus
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.config.models import NonEssentialEnv
from customer_backend.deployments.models import (
    DeploymentHistory,
    InstallationState,
    ScheduledDeployment,
)

INSTALLATION_STATE_ID = 1

POLL_RECORD_RESOLUTION = timedelta(seconds=1)
"""``last_agent_poll_at`` is rewritten at most once per this interval.

Every poll of every agent would otherwise update the one ``installation_state`` row, and
concurrent polls would queue on its row lock; offline detection works in minutes, so a poll
within a second of the recorded one changes nothing that matters and takes no lock."""


CLAIM_SQL = """
WITH claimed AS (
    UPDATE agent_task
    SET status = 'inProgress', picked_up_at = $1,
        attempts = attempts + 1, updated_at = $1
    WHERE id = (
        SELECT id FROM agent_task
        WHERE status = 'pending' AND execute_after <= $1 AND execute_after >= $2
        ORDER BY execute_after, created_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, type, payload, execute_after, deployment_id
), started AS (
    UPDATE scheduled_deployment
    SET status = 'inProgress', started_at = $1, updated_at = $1
    FROM claimed
    WHERE scheduled_deployment.id = claimed.deployment_id
      AND claimed.type = 'deploy'
    RETURNING scheduled_deployment.id
), poll_touched AS (
    UPDATE installation_state
    SET last_agent_poll_at = $1, agent_offline_alerted_at = NULL, updated_at = $1
    WHERE id = 1
      AND (last_agent_poll_at IS NULL
           OR last_agent_poll_at <= $1 - $3::interval
           OR agent_offline_alerted_at IS NOT NULL)
    RETURNING id
), poll_created AS (
    INSERT INTO installation_state (id, last_agent_poll_at, updated_at)
    SELECT 1, $1, $1
    WHERE NOT EXISTS (SELECT 1 FROM installation_state WHERE id = 1)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
SELECT id, type, payload, execute_after, deployment_id FROM claimed
"""
"""Every agent poll in one statement: parameters ``$1`` now, ``$2`` the oldest ``executeAfter``
still in its grace window, ``$3`` :data:`POLL_RECORD_RESOLUTION`.

Claims the oldest due pending task (``FOR UPDATE SKIP LOCKED``: concurrent polls never get the
same task, and never wait for each other), marks it in progress and counts the attempt, marks
its deployment (deploy tasks) in progress, and records the poll in ``installation_state``
(clearing the offline alert), creating that row when it is missing."""


@dataclass(frozen=True)
class ClaimedTask:
    """The columns of a task a poll just claimed."""

    id: uuid.UUID
    type: str
    payload: dict[str, Any]
    execute_after: datetime
    deployment_id: uuid.UUID | None


async def claim_next_task(
    connection: AsyncConnection, *, now: datetime, grace: timedelta
) -> ClaimedTask | None:
    """Run :data:`CLAIM_SQL`; the claimed task, or None when nothing is due.

    This is the path of every poll, so it runs on the asyncpg connection underneath
    SQLAlchemy (a prepared statement, no ORM or statement compilation); outside a transaction
    the statement commits by itself, which is all the atomicity a claim needs.
    """
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    row = await driver.fetchrow(CLAIM_SQL, now, now - grace, POLL_RECORD_RESOLUTION)
    if row is None:
        return None
    return ClaimedTask(
        id=row["id"],
        type=row["type"],
        payload=row["payload"],
        execute_after=row["execute_after"],
        deployment_id=row["deployment_id"],
    )


async def lock_task(session: AsyncSession, task_id: uuid.UUID) -> AgentTask | None:
    """The task, locked until the transaction ends (status changes serialise on it)."""
    result = await session.exec(select(AgentTask).where(AgentTask.id == task_id).with_for_update())
    return result.first()


async def record_heartbeat(
    session: AsyncSession, *, task_id: uuid.UUID, now: datetime
) -> str | None:
    """Extend an in-progress task's life; the task's status, or None for an unknown task."""
    result = await session.exec(
        sa.update(AgentTask)
        .where(
            col(AgentTask.id) == task_id,
            col(AgentTask.status) == str(AgentTaskStatus.IN_PROGRESS),
        )
        .values(last_heartbeat_at=now, updated_at=now)
        .returning(col(AgentTask.status))
    )
    row = result.first()
    if row is not None:
        return str(row[0])
    return await task_status(session, task_id)


async def task_status(session: AsyncSession, task_id: uuid.UUID) -> str | None:
    """The task's status, or None for an unknown task."""
    result = await session.exec(select(AgentTask.status).where(AgentTask.id == task_id))
    status = result.first()
    return None if status is None else str(status)


async def insert_log_lines(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert log lines in one statement; ids follow the order of ``rows``."""
    if rows:
        await session.exec(sa.insert(TaskLogLine).values(list(rows)))


async def insert_env_if_absent(
    session: AsyncSession, *, key: str, value: str, now: datetime
) -> bool:
    """Add a non-essential variable unless its key exists; True when added."""
    result = await session.exec(
        insert(NonEssentialEnv)
        .values(
            id=uuid.uuid4(), key=key, value=value, created_at=now, updated_at=now, updated_by=None
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(NonEssentialEnv.id))
    )
    return result.first() is not None


async def lock_deployment(
    session: AsyncSession, deployment_id: uuid.UUID | None
) -> ScheduledDeployment | None:
    """The deployment, re-read and locked until the transaction ends; None without an id."""
    if deployment_id is None:
        return None
    result = await session.exec(
        select(ScheduledDeployment)
        .where(ScheduledDeployment.id == deployment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.first()


async def latest_deployment_of_version(
    session: AsyncSession, version: str
) -> ScheduledDeployment | None:
    """The most recently received deployment of ``version`` (its GCC release id)."""
    result = await session.exec(
        select(ScheduledDeployment)
        .where(ScheduledDeployment.version == version)
        .order_by(col(ScheduledDeployment.received_at).desc())
        .limit(1)
    )
    return result.first()


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


async def current_version(session: AsyncSession) -> str | None:
    """The version the installation runs, as last recorded."""
    result = await session.exec(
        select(InstallationState.current_version).where(
            InstallationState.id == INSTALLATION_STATE_ID
        )
    )
    return result.first()


async def set_current_version(session: AsyncSession, *, version: str, now: datetime) -> None:
    """Record ``version`` as running (creating the state row when missing)."""
    await session.exec(
        insert(InstallationState)
        .values(id=INSTALLATION_STATE_ID, current_version=version, updated_at=now)
        .on_conflict_do_update(
            index_elements=["id"], set_={"current_version": version, "updated_at": now}
        )
    )


async def move_current_artifact(session: AsyncSession, *, artifact_type: str, version: str) -> None:
    """``version``'s artifact becomes current and the old current previous; others neither.

    Re-deploying the version that is already current changes nothing.
    """
    result = await session.exec(
        select(LocalArtifact)
        .where(LocalArtifact.type == artifact_type, col(LocalArtifact.is_current))
        .with_for_update()
    )
    old_current = result.all()
    if any(artifact.version == version for artifact in old_current):
        return
    previous_id = old_current[0].id if old_current else None
    await session.exec(
        sa.update(LocalArtifact)
        .where(
            col(LocalArtifact.type) == artifact_type,
            sa.or_(
                col(LocalArtifact.is_current),
                col(LocalArtifact.is_previous),
                col(LocalArtifact.version) == version,
            ),
        )
        .values(
            is_current=col(LocalArtifact.version) == version,
            is_previous=sa.func.coalesce(col(LocalArtifact.id) == previous_id, False),
        )
        .execution_options(synchronize_session=False)
    )


async def clear_current_history(session: AsyncSession) -> None:
    """No history row is current any more (a new one is about to be)."""
    await session.exec(
        sa.update(DeploymentHistory)
        .where(col(DeploymentHistory.is_current))
        .values(is_current=False)
        .execution_options(synchronize_session=False)
    )
