"""What organizations reported deploying: the version history and the current version."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentStatus,
    DeploymentStatusReport,
    Version,
    VersionHistoryEntry,
    VersionHistoryList,
)
from gcc.organizations import repository
from gcc.organizations.models import Organization, VersionHistory
from gcc.organizations.service import get_organization


async def version_history(
    session: AsyncSession, *, name: str, limit: int = 100
) -> VersionHistoryList:
    """What an active organization reported running, newest first."""
    organization = await get_organization(session, name=name)
    entries = await repository.version_history(session, organization.id, limit=limit)
    return VersionHistoryList(
        versions=[
            VersionHistoryEntry(
                release_version=Version.parse(entry.release_version),
                status=entry.status,
                helm_revision=entry.helm_revision,
                app_version=entry.app_version,
                is_rollback=entry.is_rollback,
                deployed_at=entry.deployed_at,
            )
            for entry in entries
        ]
    )


async def record_deployed_version(
    session: AsyncSession,
    *,
    organization: Organization,
    release_id: uuid.UUID,
    release_version: str,
    report: DeploymentStatusReport,
    now: datetime,
) -> None:
    """Move the organization's current version after a finished deployment or rollback, and
    add it to the version history once (a retried report adds nothing)."""
    deployed_at = report.deployed_at or now
    if report.current_version is not None:
        organization.current_version = str(report.current_version)
    elif report.status is DeploymentStatus.SUCCESS:
        organization.current_version = release_version
    if report.app_version is not None:
        organization.app_version = report.app_version
    # rolledBack without currentVersion: the previous version is running again, but which
    # one is not said, so the recorded version stays as it was.
    organization.updated_at = now
    session.add(organization)
    if await repository.history_exists(
        session,
        organization_id=organization.id,
        release_id=release_id,
        status=str(report.status),
        deployed_at=deployed_at,
    ):
        return
    session.add(
        VersionHistory(
            organization_id=organization.id,
            release_id=release_id,
            release_version=release_version,
            status=str(report.status),
            helm_revision=report.helm_revision,
            app_version=report.app_version,
            is_rollback=report.is_rollback or report.status is DeploymentStatus.ROLLED_BACK,
            deployed_at=deployed_at,
        )
    )
