"""Read-only views of releases: the operators' list and detail, and the customers' poll."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    ArtifactType,
    DeploymentStatus,
    DeploymentType,
    NonEssentialEnv,
    OperatorArtifactView,
    OperatorReleaseDetail,
    OperatorReleaseList,
    OperatorReleaseSummary,
    OperatorTargetView,
    ReleaseCreateResponse,
    ReleasePublishResponse,
    ReleaseStatus,
    ReleaseTargetCounts,
    TargetDeliveryView,
    TargetDeploymentView,
    UpdatesPollResponse,
    Version,
)
from gcc.artifacts import repository as artifact_repository
from gcc.artifacts.models import Artifact
from gcc.artifacts.service import parse_version_text
from gcc.delivery.models import DeploymentTarget
from gcc.organizations.models import Organization
from gcc.releases import repository
from gcc.releases.models import Release
from gcc.releases.repository import TargetCounts
from gcc.releases.service import PublishOutcome
from gcc.releases.webhook_body import build_webhook_body
from servicekit.errors import NotFound


def created_view(release: Release) -> ReleaseCreateResponse:
    """The answer to a release creation."""
    return ReleaseCreateResponse(
        id=release.id, version=Version.parse(release.version), status=ReleaseStatus(release.status)
    )


def published_view(outcome: PublishOutcome) -> ReleasePublishResponse:
    """The answer to a publication."""
    release = outcome.release
    assert release.published_at is not None
    return ReleasePublishResponse(
        id=release.id,
        version=Version.parse(release.version),
        status=ReleaseStatus(release.status),
        published_at=release.published_at,
        targets=len(outcome.fan_out.organization_ids),
        license_expired=outcome.fan_out.license_expired,
        below_min_version=outcome.fan_out.below_min_version,
        without_artifact=outcome.fan_out.without_artifact,
    )


def summary_view(release: Release, counts: TargetCounts | None = None) -> OperatorReleaseSummary:
    """One release of the operators' list."""
    counts = counts or TargetCounts()
    return OperatorReleaseSummary(
        id=release.id,
        version=Version.parse(release.version),
        status=ReleaseStatus(release.status),
        is_forced=release.is_forced,
        is_migration_required=release.is_migration_required,
        min_current_version=(
            Version.parse(release.min_current_version) if release.min_current_version else None
        ),
        created_by=release.created_by,
        created_at=release.created_at,
        published_at=release.published_at,
        deprecated_at=release.deprecated_at,
        targets=ReleaseTargetCounts(
            total=counts.total,
            acknowledged=counts.acknowledged,
            webhook_failed=counts.webhook_failed,
            succeeded=counts.succeeded,
            failed=counts.failed,
        ),
    )


async def list_releases(session: AsyncSession) -> OperatorReleaseList:
    """Every release, newest first, with its target counts."""
    releases = await repository.list_newest_first(session)
    counts = await repository.target_counts(session, (release.id for release in releases))
    return OperatorReleaseList(
        releases=[summary_view(release, counts.get(release.id)) for release in releases]
    )


def _artifact_view(artifact: Artifact) -> OperatorArtifactView:
    return OperatorArtifactView(
        id=artifact.id,
        type=ArtifactType(artifact.type),
        bucket_path=artifact.bucket_path,
        sha256=artifact.sha256,
        size_bytes=artifact.size_bytes,
        uploaded_at=artifact.created_at,
        removed_at=artifact.removed_at,
    )


def _target_view(
    target: DeploymentTarget, organization_name: str, deployment_type: str
) -> OperatorTargetView:
    return OperatorTargetView(
        organization_name=organization_name,
        deployment_type=DeploymentType(deployment_type),
        delivery=TargetDeliveryView(
            webhook_id=target.webhook_id,
            sent=target.webhook_sent,
            acked=target.webhook_acked,
            failed=target.webhook_failed,
            attempts=target.webhook_attempts,
            error=target.webhook_error,
            acked_at=target.acked_at,
            next_attempt_at=target.next_attempt_at,
        ),
        deployment=TargetDeploymentView(
            status=DeploymentStatus(target.status),
            scheduled_for=target.scheduled_for,
            started_at=target.started_at,
            completed_at=target.completed_at,
            helm_revision=target.helm_revision,
            error_message=target.error_message,
        ),
    )


async def release_detail(session: AsyncSession, version_text: str) -> OperatorReleaseDetail:
    """One release with its artifacts and the delivery and deployment of every target."""
    version = str(parse_version_text(version_text))
    release = await repository.get_by_version(session, version)
    if release is None:
        raise NotFound(f"There is no release {version}.", field="version")
    counts = await repository.target_counts(session, [release.id])
    artifacts = sorted(
        await artifact_repository.for_versions(session, [version]),
        key=lambda artifact: artifact.type,
    )
    targets = await repository.targets_with_organizations(session, release.id)
    summary = summary_view(release, counts.get(release.id))
    return OperatorReleaseDetail(
        **dict(summary),
        image_tags=release.image_tags,
        estimated_downtime=release.estimated_downtime,
        release_notes=release.release_notes,
        new_non_essential_envs=[
            NonEssentialEnv.model_validate(env) for env in release.new_non_essential_envs
        ],
        target_organizations=release.target_organizations,
        artifacts=[_artifact_view(artifact) for artifact in artifacts],
        deployment_targets=[_target_view(*row) for row in targets],
    )


def _digests(artifacts: Sequence[Artifact]) -> dict[tuple[str, str], str]:
    return {(artifact.version, artifact.type): artifact.sha256 for artifact in artifacts}


async def pending_updates(session: AsyncSession, organization: Organization) -> UpdatesPollResponse:
    """The webhook bodies of the published releases the organization has not taken up yet."""
    releases = await repository.releases_awaiting(session, organization.id)
    digests = _digests(
        await artifact_repository.for_versions(session, (release.version for release in releases))
    )
    bodies = []
    for release in releases:
        chart_sha256 = digests.get((release.version, ArtifactType.HELM))
        if chart_sha256 is None:
            continue  # cannot happen: publishing requires the chart
        bodies.append(
            build_webhook_body(
                release,
                chart_sha256=chart_sha256,
                compose_sha256=digests.get((release.version, ArtifactType.COMPOSE)),
            )
        )
    return UpdatesPollResponse(releases=bodies)
