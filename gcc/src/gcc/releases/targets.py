"""The deployment of a release at an organization, as its customer backend reports it.

A report moves the release's deployment target there: scheduled, in progress, then finished.
The reports arrive through the health domain, which also moves the organization's version and
raises the escalations a failure calls for.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentStatus, DeploymentStatusReport
from gcc.organizations.models import Organization
from gcc.releases import repository
from gcc.releases.models import DeploymentTarget, Release
from servicekit.errors import NotFound

FINISHED = frozenset(
    {
        DeploymentStatus.SUCCESS,
        DeploymentStatus.FAILED,
        DeploymentStatus.ROLLED_BACK,
        DeploymentStatus.DEADLINE_EXCEEDED,
        DeploymentStatus.CANCELLED,
        DeploymentStatus.DOWNLOAD_FAILED,
    }
)
"""Statuses that end a deployment: the target's ``completed_at`` is set."""


def _not_sent(release: Release, organization: Organization) -> NotFound:
    return NotFound(
        f"Release {release.version} was not sent to organization {organization.name}.",
        field="releaseId",
    )


async def schedule_target(
    session: AsyncSession,
    *,
    release: Release,
    organization: Organization,
    scheduled_for: datetime,
    now: datetime,
) -> None:
    """The release was scheduled at the organization: its target becomes ``scheduled``."""
    target = await repository.get_target(
        session, release_id=release.id, organization_id=organization.id
    )
    if target is None:
        raise _not_sent(release, organization)
    target.status = str(DeploymentStatus.SCHEDULED)
    target.scheduled_for = scheduled_for
    target.updated_at = now
    session.add(target)


async def apply_status_report(
    session: AsyncSession,
    *,
    release: Release,
    organization: Organization,
    report: DeploymentStatusReport,
    now: datetime,
    target_required: bool,
) -> bool:
    """Apply a status report to the release's target at the organization; False when the
    release has no target there, which is a 404 when ``target_required``."""
    target = await repository.get_target(
        session, release_id=release.id, organization_id=organization.id
    )
    if target is None:
        if target_required:
            raise _not_sent(release, organization)
        return False
    _apply(target, report, now=now)
    session.add(target)
    return True


def _apply(target: DeploymentTarget, report: DeploymentStatusReport, *, now: datetime) -> None:
    target.status = str(report.status)
    if report.status is DeploymentStatus.IN_PROGRESS:
        target.started_at = now
    elif report.status in FINISHED:
        target.completed_at = report.deployed_at or now
    if report.helm_revision is not None:
        target.helm_revision = report.helm_revision
    if report.error_message is not None:
        target.error_message = report.error_message
    target.updated_at = now
