"""Which artifacts retention must keep for deployments and the agent's tasks."""

from __future__ import annotations

from collections.abc import Set

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, LocalDeploymentStatus
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.artifacts import service as artifacts
from customer_backend.deployments import repository
from objectstore import ObjectStore
from timekeeping import Clock

RETAINED_DEPLOYMENT_STATUSES = (
    LocalDeploymentStatus.SCHEDULED,
    LocalDeploymentStatus.IN_PROGRESS,
    LocalDeploymentStatus.MISSED_SCHEDULE,
)
"""Deployments whose artifact retention never removes: about to run, running, or waiting for
an admin to reschedule a missed window."""


async def keys_in_use(session: AsyncSession, *, artifact_type: ArtifactType) -> set[str]:
    """Bucket keys of active deployments' artifacts and of every file a pending or running
    agent task refers to (a queued rollback by version names its artifact only there)."""
    keys = await repository.chart_keys_with_statuses(
        session, artifact_type=artifact_type, statuses=RETAINED_DEPLOYMENT_STATUSES
    )
    return keys | await agent_queue.files_in_use(session)


async def apply_retention(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    artifact_type: ArtifactType,
    keep: int,
    protect: Set[str] = frozenset(),
) -> list[str]:
    """Keep the ``keep`` newest artifacts of a type, sparing what deployments and tasks still
    need (see :func:`artifacts.service.apply_retention`); the keys deleted, oldest first."""
    in_use = await keys_in_use(session, artifact_type=artifact_type)
    return await artifacts.apply_retention(
        session,
        clock=clock,
        object_store=object_store,
        artifact_type=artifact_type,
        keep=keep,
        protect=set(protect) | in_use,
    )
