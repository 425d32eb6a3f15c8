"""Deployment reports from customer backends: scheduled, started, finished, lapsed.

A report moves the organization's deployment target, and a finished deployment also moves the
organization's current version and adds to its version history.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    DeploymentScheduledReport,
    DeploymentStatus,
    DeploymentStatusReport,
    EscalationType,
)
from gcc.delivery.models import DeploymentTarget
from gcc.escalations.service import raise_escalation
from gcc.health import repository
from gcc.health.models import VersionHistory
from gcc.organizations.models import Organization
from gcc.releases.models import Release
from servicekit.errors import Forbidden, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

# Statuses after which the organization runs a known version.
VERSION_CHANGING = frozenset({DeploymentStatus.SUCCESS, DeploymentStatus.ROLLED_BACK})
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
ERROR_DETAIL_LIMIT = 2000


def _require_own(organization: Organization, reported_name: str) -> None:
    if reported_name != organization.name:
        raise Forbidden(
            "This API key reports for its own organization only.", field="organizationName"
        )


async def _get_release(session: AsyncSession, report_release_id: uuid.UUID) -> Release:
    release = await repository.get_release(session, report_release_id)
    if release is None:
        raise NotFound(f"There is no release with id {report_release_id}.", field="releaseId")
    return release


async def record_deployment_scheduled(
    session: AsyncSession,
    *,
    clock: Clock,
    organization: Organization,
    report: DeploymentScheduledReport,
) -> None:
    """An admin scheduled the release: the target becomes ``scheduled`` for that time."""
    _require_own(organization, report.organization_name)
    release = await _get_release(session, report.release_id)
    target = await repository.get_target(
        session, release_id=release.id, organization_id=organization.id
    )
    if target is None:
        raise NotFound(
            f"Release {release.version} was not sent to organization {organization.name}.",
            field="releaseId",
        )
    target.status = str(DeploymentStatus.SCHEDULED)
    target.scheduled_for = report.scheduled_for
    target.updated_at = clock.now()
    session.add(target)
    await session.flush()
    log.info(
        "deployments.schedule.recorded",
        organization=organization.name,
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
    release = await _get_release(session, report.release_id)
    now = clock.now()
    target = await repository.get_target(
        session, release_id=release.id, organization_id=organization.id
    )
    without_target_allowed = report.is_rollback or report.status in VERSION_CHANGING
    if target is None and not without_target_allowed:
        raise NotFound(
            f"Release {release.version} was not sent to organization {organization.name}.",
            field="releaseId",
        )
    if target is not None:
        _apply_to_target(target, report, now=now)
        session.add(target)

    if report.status in VERSION_CHANGING:
        await _record_version(session, organization, release, report, now=now)
    if report.status is DeploymentStatus.FAILED:
        error = (report.error_message or "no error message")[-ERROR_DETAIL_LIMIT:]
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=EscalationType.DEPLOYMENT_FAILED,
            organization_id=organization.id,
            release_id=release.id,
            reason=f"Deployment of {release.version} at {organization.name} failed: {error}",
            details={"version": release.version, "errorMessage": error},
        )
    elif report.status is DeploymentStatus.DEADLINE_EXCEEDED:
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=EscalationType.FORCED_24H_EXCEEDED,
            organization_id=organization.id,
            release_id=release.id,
            reason=(
                f"Organization {organization.name} let the deadline of the forced release "
                f"{release.version} pass without deploying it."
            ),
            details={"version": release.version, "reportedBy": "customer"},
        )
    await session.flush()
    log.info(
        "deployments.status.recorded",
        organization=organization.name,
        version=release.version,
        status=str(report.status),
        has_target=target is not None,
    )


def _apply_to_target(
    target: DeploymentTarget, report: DeploymentStatusReport, *, now: datetime
) -> None:
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


async def _record_version(
    session: AsyncSession,
    organization: Organization,
    release: Release,
    report: DeploymentStatusReport,
    *,
    now: datetime,
) -> None:
    deployed_at = report.deployed_at or now
    if report.current_version is not None:
        organization.current_version = str(report.current_version)
    elif report.status is DeploymentStatus.SUCCESS:
        organization.current_version = release.version
    # rolledBack without currentVersion: the previous version is running again, but which
    # one is not said, so the recorded version stays as it was.
    organization.updated_at = now
    session.add(organization)
    if await repository.history_exists(
        session,
        organization_id=organization.id,
        release_id=release.id,
        status=str(report.status),
        deployed_at=deployed_at,
    ):
        return  # a retried report: recorded already
    session.add(
        VersionHistory(
            organization_id=organization.id,
            release_id=release.id,
            release_version=release.version,
            status=str(report.status),
            helm_revision=report.helm_revision,
            is_rollback=report.is_rollback or report.status is DeploymentStatus.ROLLED_BACK,
            deployed_at=deployed_at,
        )
    )
