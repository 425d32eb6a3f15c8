"""Releases as the API shows them: pure mappings from tables to contracts, no queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

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
    SignedManifest,
    TargetDeliveryView,
    TargetDeploymentView,
    UpdatesPollResponse,
    Version,
)
from gcc.artifacts.models import Artifact
from gcc.releases.fanout import FanOut
from gcc.releases.models import DeploymentTarget, Release
from gcc.releases.repository import TargetCounts
from gcc.releases.webhook_body import build_webhook_body


def created_view(release: Release) -> ReleaseCreateResponse:
    """The answer to a release creation."""
    return ReleaseCreateResponse(
        id=release.id, version=Version.parse(release.version), status=ReleaseStatus(release.status)
    )


def published_view(release: Release, fan_out: FanOut) -> ReleasePublishResponse:
    """The answer to a publication."""
    assert release.published_at is not None
    return ReleasePublishResponse(
        id=release.id,
        version=Version.parse(release.version),
        status=ReleaseStatus(release.status),
        published_at=release.published_at,
        targets=len(fan_out.organization_ids),
        license_expired=fan_out.license_expired,
        below_min_version=fan_out.below_min_version,
        without_artifact=fan_out.without_artifact,
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


def list_view(
    releases: Sequence[Release], counts: dict[uuid.UUID, TargetCounts]
) -> OperatorReleaseList:
    """The operators' list of releases."""
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


def detail_view(
    release: Release,
    counts: TargetCounts | None,
    artifacts: Sequence[Artifact],
    targets: Sequence[tuple[DeploymentTarget, str, str]],
) -> OperatorReleaseDetail:
    """One release with its artifacts and the delivery and deployment of every target.

    ``targets`` holds each target with its organization's name and deployment type.
    """
    summary = summary_view(release, counts)
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


def updates_view(
    releases: Sequence[Release],
    digests: dict[tuple[str, ArtifactType], str],
    manifests: dict[uuid.UUID, SignedManifest | None],
) -> UpdatesPollResponse:
    """The webhook bodies of ``releases``, each with its artifacts' digests and manifest."""
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
                manifest=manifests.get(release.id),
            )
        )
    return UpdatesPollResponse(releases=bodies)
