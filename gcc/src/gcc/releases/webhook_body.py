"""The ``release.published`` body: the same bytes go out by webhook and by the updates poll."""

from __future__ import annotations

from contracts import (
    NonEssentialEnv,
    PublishedRelease,
    ReleasePublishedWebhook,
    ReleaseRuleset,
    ReleaseWithdrawnWebhook,
    SignedManifest,
    Version,
)
from gcc.releases.models import Release


def build_webhook_body(
    release: Release,
    *,
    chart_sha256: str,
    compose_sha256: str | None,
    manifest: SignedManifest | None = None,
) -> ReleasePublishedWebhook:
    """The webhook body of a release, given the digests of its stored artifacts and its
    signed manifest (None for a release published unsigned)."""
    version = Version.parse(release.version)
    return ReleasePublishedWebhook(
        release=PublishedRelease(
            id=release.id,
            version=version,
            chart_version=version,
            chart_sha256=chart_sha256,
            compose_sha256=compose_sha256,
            image_tags=release.image_tags,
            new_non_essential_envs=[
                NonEssentialEnv.model_validate(env) for env in release.new_non_essential_envs
            ],
        ),
        ruleset=ReleaseRuleset(
            is_forced=release.is_forced,
            is_migration_required=release.is_migration_required,
            estimated_downtime=release.estimated_downtime,
            release_notes=release.release_notes,
            min_current_version=(
                Version.parse(release.min_current_version) if release.min_current_version else None
            ),
        ),
        manifest=manifest,
    )


def build_withdrawn_body(release: Release) -> ReleaseWithdrawnWebhook | None:
    """The ``release.withdrawn`` body of a withdrawn release; None for one not withdrawn."""
    if release.withdrawn_at is None:
        return None
    return ReleaseWithdrawnWebhook(
        release_id=release.id,
        version=Version.parse(release.version),
        withdrawn_at=release.withdrawn_at,
        reason=release.withdraw_reason,
        rollback_version=(
            Version.parse(release.rollback_version) if release.rollback_version else None
        ),
    )
