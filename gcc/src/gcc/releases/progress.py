"""What the console shows of a release in flight: how far its fan-out got, what publishing it
would reach, and an organization's deliveries across releases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, ReleaseStatus
from gcc.artifacts import service as artifact_service
from gcc.releases import repository
from gcc.releases.fanout import FanOut, plan_fan_out
from gcc.releases.models import DeploymentTarget
from gcc.releases.repository import DeliveryCounts
from gcc.releases.service import get_release
from servicekit.errors import Conflict, InvalidInput
from timekeeping import Clock


@dataclass(frozen=True)
class DeliveryProgress:
    """A release's fan-out: the counts, and the share of it that is settled."""

    version: str
    status: str
    counts: DeliveryCounts

    @property
    def targets(self) -> int:
        """Organizations the release was sent to."""
        counts = self.counts
        return counts.acknowledged + counts.retrying + counts.pending + counts.failed

    @property
    def settled_percent(self) -> int:
        """Acknowledged or finally failed, of every target: 100 when nothing is left to send."""
        if not self.targets:
            return 100
        settled = self.counts.acknowledged + self.counts.failed
        return int(100 * settled / self.targets)

    @property
    def is_running(self) -> bool:
        """Whether deliveries are still due, so the page keeps refreshing."""
        return self.counts.retrying + self.counts.pending > 0


async def delivery_progress(session: AsyncSession, *, version_text: str) -> DeliveryProgress:
    """How far the fan-out of a release got (404 for an unknown version)."""
    release = await get_release(session, version_text=version_text)
    counts = await repository.delivery_counts(session, release.id)
    return DeliveryProgress(version=release.version, status=release.status, counts=counts)


async def publish_preview(session: AsyncSession, *, clock: Clock, version_text: str) -> FanOut:
    """Whom publishing the draft would reach and hold back now, changing nothing; the same
    refusals as publishing (409 for a release that is no draft, 422 without a Helm chart)."""
    release = await get_release(session, version_text=version_text)
    if release.status != ReleaseStatus.DRAFT:
        raise Conflict(f"Release {release.version} is already {release.status}.", field="version")
    versions = await artifact_service.available_types(session, [release.version])
    available = versions.get(release.version, set())
    if ArtifactType.HELM not in available:
        raise InvalidInput(
            f"helm: release {release.version} has no Helm chart; upload "
            f"charts/helm/wrktalk-{release.version}.tgz before publishing",
            field="helm",
        )
    return await plan_fan_out(
        session,
        clock=clock,
        release=release,
        available=available,
        now=clock.now(),
        raise_holds=False,
    )


async def deliveries_of_organization(
    session: AsyncSession, *, organization_id: uuid.UUID, limit: int = 20
) -> Sequence[tuple[DeploymentTarget, str]]:
    """The organization's latest deliveries (target and release version), newest first."""
    return await repository.targets_of_organization(session, organization_id, limit=limit)


async def troubled_deliveries(
    session: AsyncSession, *, release_id: uuid.UUID, limit: int = 50
) -> Sequence[tuple[DeploymentTarget, str]]:
    """A release's deliveries that are retrying or failed, with the organization's name."""
    return await repository.unacknowledged_targets(session, release_id, limit=limit)
