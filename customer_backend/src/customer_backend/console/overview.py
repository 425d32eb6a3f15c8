"""What the console's Overview and Releases pages show, gathered from the domains' services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentStatusView, LocalDeploymentStatus, ScheduledDeploymentView
from contracts.maintenance import MaintenanceModeView
from customer_backend.artifacts import service as artifacts
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.deployments import service as deployments
from customer_backend.installation import service as installation
from customer_backend.maintenance import service as maintenance
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.models import Notification
from customer_backend.notifications.service import notifications_by_keys
from customer_backend.reporting.service import OutboxBacklog, outbox_backlog
from customer_backend.settings import Settings
from timekeeping import Clock

FORCED_EMAILS = (
    EmailEventName.FORCED_RELEASE_AVAILABLE,
    EmailEventName.FORCED_REMINDER_12H,
    EmailEventName.FORCED_REMINDER_20H,
    EmailEventName.DEADLINE_EXCEEDED,
)
"""The emails of a forced update's timeline, in the order they go out."""

WAITING_STATUSES = frozenset(
    {
        LocalDeploymentStatus.PENDING,
        LocalDeploymentStatus.DOWNLOAD_FAILED,
        LocalDeploymentStatus.MISSED_SCHEDULE,
        LocalDeploymentStatus.DEADLINE_EXCEEDED,
        LocalDeploymentStatus.SCHEDULED,
    }
)
"""A forced release in one of these has not been deployed yet."""


@dataclass(frozen=True)
class ForcedUpdate:
    """A forced release not deployed yet: its deadline and the reminders sent so far."""

    release: ScheduledDeploymentView
    remaining: timedelta | None
    emails: list[Notification]


@dataclass(frozen=True)
class Overview:
    """The installation at a glance."""

    current_version: str | None
    previous_version: str | None
    agent: AgentStatusView
    executor: str
    maintenance: MaintenanceModeView
    next_scheduled: ScheduledDeploymentView | None
    in_progress: list[ScheduledDeploymentView]
    waiting_count: int
    forced: list[ForcedUpdate] = field(default_factory=list)
    now: datetime | None = None
    is_air_gapped: bool = False
    reports: OutboxBacklog | None = None


async def overview(session: AsyncSession, *, clock: Clock, settings: Settings) -> Overview:
    """Versions, agent, maintenance, what is scheduled, and forced updates with deadlines."""
    now = clock.now()
    releases = await deployments.list_releases(session)
    scheduled = [r for r in releases.scheduled if r.status == LocalDeploymentStatus.SCHEDULED]
    in_progress = [r for r in releases.scheduled if r.status != LocalDeploymentStatus.SCHEDULED]
    forced_releases = [
        release
        for release in [*releases.scheduled, *releases.pending]
        if release.is_forced and release.status in WAITING_STATUSES
    ]
    emails = await notifications_by_keys(
        session,
        [f"{event}:{release.id}" for release in forced_releases for event in FORCED_EMAILS],
    )
    forced = [
        ForcedUpdate(
            release=release,
            remaining=release.force_deadline - now if release.force_deadline else None,
            emails=[email for email in emails if email.dedupe_key.endswith(f":{release.id}")],
        )
        for release in forced_releases
    ]
    return Overview(
        current_version=await installation.current_version(session),
        previous_version=await artifacts.previous_version(
            session, artifact_type=settings.deployment_type.artifact_type
        ),
        agent=await installation.agent_status(session, clock=clock),
        executor=str(settings.deployment_type),
        maintenance=await maintenance.maintenance_mode(session),
        next_scheduled=scheduled[0] if scheduled else None,
        in_progress=in_progress,
        waiting_count=len(releases.pending),
        forced=forced,
        now=now,
        is_air_gapped=settings.air_gapped,
        reports=await outbox_backlog(session),
    )


@dataclass(frozen=True)
class ReleaseRow:
    """A release as the Releases page lists it: the release and its verified artifact."""

    release: ScheduledDeploymentView
    artifact: LocalArtifact | None

    @property
    def is_schedulable(self) -> bool:
        """Whether the page offers the schedule form (the service still decides)."""
        return self.release.is_chart_downloaded and self.release.status in (
            deployments.SCHEDULABLE_STATUSES
        )


async def release_rows(session: AsyncSession, *, settings: Settings) -> list[ReleaseRow]:
    """Releases waiting for an admin and those scheduled or running, newest first."""
    releases = await deployments.list_releases(session)
    rows = []
    for release in [*releases.scheduled, *releases.pending]:
        artifact = await artifacts.get_artifact(
            session,
            version=str(release.version),
            artifact_type=settings.deployment_type.artifact_type,
        )
        rows.append(ReleaseRow(release=release, artifact=artifact))
    return rows
