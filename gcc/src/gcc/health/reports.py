"""Deployment reports from customer backends: scheduled, started, finished, lapsed.

A report moves the release's deployment target at the organization (releases owns the
targets, :mod:`gcc.releases.targets`); a finished deployment also moves the organization's
current version and adds to its version history (organizations records both), and a failed or
overdue one raises an escalation.
"""

from __future__ import annotations

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentScheduledReport,
    DeploymentStatus,
    DeploymentStatusReport,
    EscalationType,
)
from gcc.escalations.service import raise_escalation
from gcc.organizations import history as organization_history
from gcc.organizations.models import Organization
from gcc.releases import service as release_service
from gcc.releases import targets
from gcc.releases.models import Release
from servicekit.errors import Forbidden
from timekeeping import Clock

log = structlog.get_logger(__name__)

# Statuses after which the organization runs a known version.
VERSION_CHANGING = frozenset({DeploymentStatus.SUCCESS, DeploymentStatus.ROLLED_BACK})
ERROR_DETAIL_LIMIT = 2000


def _require_own(organization: Organization, reported_name: str) -> None:
    if reported_name != organization.name:
        raise Forbidden(
            "This API key reports for its own organization only.", field="organizationName"
        )


async def record_deployment_scheduled(
    session: AsyncSession,
    *,
    clock: Clock,
    organization: Organization,
    report: DeploymentScheduledReport,
) -> None:
    """An admin scheduled the release: the target becomes ``scheduled`` for that time."""
    _require_own(organization, report.organization_name)
    release = await release_service.get_release_by_id(session, release_id=report.release_id)
    await targets.schedule_target(
        session,
        release=release,
        organization=organization,
        scheduled_for=report.scheduled_for,
        now=clock.now(),
    )
    await session.flush()
    log.info(
        "deployments.schedule.recorded",
        organization_id=str(organization.id),
        organization=organization.name,
        release_id=str(release.id),
        version=release.version,
        scheduled_for=report.scheduled_for.isoformat(),
    )


async def record_deployment_status(
    session: AsyncSession,
    *,
    clock: Clock,
    organization: Organization,
    report: DeploymentStatusReport,
) -> None:
    """Apply a status report to the target, the current version, history and escalations.

    A rollback may go back to a release this organization was never sent (older than GCC's
    records of it, or sent before it joined): there is no target then, and the history and
    current version are still recorded.
    """
    _require_own(organization, report.organization_name)
    release = await release_service.get_release_by_id(session, release_id=report.release_id)
    now = clock.now()
    has_target = await targets.apply_status_report(
        session,
        release=release,
        organization=organization,
        report=report,
        now=now,
        target_required=not (report.is_rollback or report.status in VERSION_CHANGING),
    )
    if report.status in VERSION_CHANGING:
        await organization_history.record_deployed_version(
            session,
            organization=organization,
            release_id=release.id,
            release_version=release.version,
            report=report,
            now=now,
        )
    await _escalate(session, clock=clock, organization=organization, release=release, report=report)
    await session.flush()
    log.info(
        "deployments.status.recorded",
        organization_id=str(organization.id),
        organization=organization.name,
        release_id=str(release.id),
        version=release.version,
        status=str(report.status),
        has_target=has_target,
    )


async def _escalate(
    session: AsyncSession,
    *,
    clock: Clock,
    organization: Organization,
    release: Release,
    report: DeploymentStatusReport,
) -> None:
    """Raise the escalation a failed, undownloadable or overdue deployment calls for."""
    if report.status is DeploymentStatus.FAILED:
        error = (report.error_message or "no error message")[-ERROR_DETAIL_LIMIT:]
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=EscalationType.DEPLOYMENT_FAILED,
            organization_id=organization.id,
            release_id=release.id,
            release_version=release.version,
            reason=f"Deployment of {release.version} at {organization.name} failed: {error}",
            details={"version": release.version, "errorMessage": error},
        )
    elif report.status is DeploymentStatus.DOWNLOAD_FAILED:
        error = (report.error_message or "no error message")[-ERROR_DETAIL_LIMIT:]
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=EscalationType.DOWNLOAD_FAILED,
            organization_id=organization.id,
            release_id=release.id,
            release_version=release.version,
            reason=f"{organization.name} could not download {release.version}: {error}",
            details={"version": release.version, "errorMessage": error},
        )
    elif report.status is DeploymentStatus.DEADLINE_EXCEEDED:
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=EscalationType.FORCED_24H_EXCEEDED,
            organization_id=organization.id,
            release_id=release.id,
            release_version=release.version,
            reason=(
                f"Organization {organization.name} let the deadline of the forced release "
                f"{release.version} pass without deploying it."
            ),
            details={"version": release.version, "reportedBy": "customer"},
        )
