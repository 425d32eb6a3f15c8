"""The signed release manifest at intake: verified before a release is accepted.

A release is accepted only with a manifest signed by a trusted key (``WRKTALK_MANIFEST_TRUSTED_
KEYS``), within its validity, and saying what the webhook's other fields say: the same release
id, version, artifact digests, forced flag, minimum version and image tags, and this
organization when it names one. That closes mix-and-match (a body pairing one release's
fields with another's digests) and freeze (an old, expired manifest replayed). Without a
manifest the release is refused unless ``WRKTALK_ALLOW_UNSIGNED_RELEASES`` is on.

Later, the download checks the artifact against the manifest's digest and size.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, ReleaseManifest, ReleasePublishedWebhook, SignedManifest
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.settings import Settings
from servicekit.runtime import SendTask
from signing import ManifestRefused, RefusalReason, TrustedKeys, verify_manifest
from timekeeping import Clock

log = structlog.get_logger(__name__)


@functools.lru_cache(maxsize=8)
def _trusted_keys(texts: tuple[str, ...]) -> TrustedKeys:
    return TrustedKeys.from_texts(texts)


def trusted_keys(settings: Settings) -> TrustedKeys:
    """The public keys the settings trust (parsed once per list)."""
    return _trusted_keys(tuple(settings.manifest_trusted_keys))


def check_release_manifest(
    webhook: ReleasePublishedWebhook, *, settings: Settings, now: datetime
) -> ReleaseManifest | None:
    """The verified manifest of ``webhook``; None for an unsigned release while those are
    allowed. :class:`ManifestRefused` when the release must be refused."""
    signed = webhook.manifest
    if signed is None:
        if settings.allow_unsigned_releases:
            log.warning("intake.manifest.unsigned_accepted", version=str(webhook.release.version))
            return None
        raise ManifestRefused(
            RefusalReason.UNSIGNED,
            "the release has no signed manifest and unsigned releases are not allowed "
            "(WRKTALK_ALLOW_UNSIGNED_RELEASES)",
        )
    manifest = verify_manifest(signed, trusted_keys(settings), now=now)
    _require_same_release(webhook, manifest, organization=settings.organization_name)
    return manifest


def _require_same_release(
    webhook: ReleasePublishedWebhook, manifest: ReleaseManifest, *, organization: str
) -> None:
    release, ruleset = webhook.release, webhook.ruleset
    helm = manifest.artifact_of(ArtifactType.HELM)
    compose = manifest.artifact_of(ArtifactType.COMPOSE)
    differences = [
        name
        for name, differs in (
            ("release.id", manifest.release_id != release.id),
            ("release.version", manifest.version != release.version),
            ("release.chartSha256", helm is None or helm.sha256 != release.chart_sha256),
            (
                "release.composeSha256",
                (compose.sha256 if compose else None) != release.compose_sha256,
            ),
            ("release.imageTags", dict(manifest.image_tags) != dict(release.image_tags)),
            ("ruleset.isForced", manifest.is_forced != ruleset.is_forced),
            (
                "ruleset.minCurrentVersion",
                manifest.min_current_version != ruleset.min_current_version,
            ),
        )
        if differs
    ]
    if differences:
        raise ManifestRefused(
            RefusalReason.MISMATCH,
            f"the signed manifest disagrees with the webhook on {', '.join(differences)}",
        )
    if manifest.organization is not None and manifest.organization != organization:
        raise ManifestRefused(
            RefusalReason.MISMATCH,
            f"the manifest is for the organization {manifest.organization}, not {organization}",
        )


async def report_refusal(
    session: AsyncSession,
    *,
    clock: Clock,
    webhook: ReleasePublishedWebhook,
    refusal: ManifestRefused,
    source: str,
    send_task: SendTask | None,
) -> None:
    """Log the refusal and queue the admins' email (once per release and reason)."""
    version = str(webhook.release.version)
    log.error(
        "intake.manifest.refused",
        release_id=str(webhook.release.id),
        version=version,
        reason=str(refusal.reason),
        error=refusal.message,
        source=source,
    )
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.MANIFEST_REFUSED,
        dedupe_key=f"manifest-refused:{webhook.release.id}:{refusal.reason}",
        context={
            "release_id": str(webhook.release.id),
            "version": version,
            "reason": str(refusal.reason),
            "error": refusal.message,
            "source": source,
        },
        send_task=send_task,
    )


def signed_artifact(
    release_data: Mapping[str, Any], artifact_type: ArtifactType, *, settings: Settings
) -> tuple[str, int] | None:
    """The signed SHA256 and size of the stored release's artifact of ``artifact_type``;
    None for a release accepted unsigned. The stored manifest is verified again (not its
    expiry, checked at receipt), so a changed row is refused: :class:`ManifestRefused`."""
    data = release_data.get("manifest")
    if data is None:
        return None
    try:
        signed = SignedManifest.model_validate(data)
    except ValidationError:
        raise ManifestRefused(
            RefusalReason.BAD_SIGNATURE, "the stored manifest is not a signed manifest"
        ) from None
    manifest = verify_manifest(
        signed, trusted_keys(settings), now=signed.manifest.issued_at, check_expiry=False
    )
    artifact = manifest.artifact_of(artifact_type)
    if artifact is None:
        raise ManifestRefused(
            RefusalReason.MISMATCH, f"the signed manifest has no {artifact_type} artifact"
        )
    return artifact.sha256, artifact.size_bytes
