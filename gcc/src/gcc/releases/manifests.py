"""Signed release manifests: built and signed at publish, signed afresh when they are sent.

A manifest is stored with its release (``release.signed_manifest``) when the release is
published. Whatever sends it (webhook, updates poll, artifact download) asks
:func:`current_manifest`, which signs the same content again with fresh times when less than
half of its validity is left or when another key than the signing one signed it, so that a
release delivered weeks after its publication, or after a key rotation, still verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    ArtifactType,
    DeploymentType,
    ManifestArtifact,
    ReleaseManifest,
    SignedManifest,
    Version,
)
from gcc.artifacts import service as artifact_service
from gcc.artifacts.models import Artifact
from gcc.releases.models import Release
from gcc.settings import Settings
from signing import SigningKey, load_signing_keys, sign_manifest

log = structlog.get_logger(__name__)

_DEPLOYMENT_TYPES_OF: dict[ArtifactType, tuple[DeploymentType, ...]] = {
    ArtifactType.HELM: (DeploymentType.KUBERNETES, DeploymentType.GITOPS),
    ArtifactType.COMPOSE: (DeploymentType.DOCKER,),
}


@dataclass(frozen=True)
class ManifestSigner:
    """The key GCC signs manifests with, and how long a manifest stays valid."""

    key: SigningKey
    validity: timedelta

    def sign(self, manifest: ReleaseManifest, *, now: datetime) -> SignedManifest:
        """``manifest`` issued ``now``, valid for the validity, signed with the key."""
        issued_at = now.replace(microsecond=0)
        timed = manifest.model_copy(
            update={"issued_at": issued_at, "expires_at": issued_at + self.validity}
        )
        return sign_manifest(timed, self.key)


def load_signer(settings: Settings) -> ManifestSigner | None:
    """The signer the settings describe, None when no key is configured.

    ``ValueError`` for a key file that cannot be read or a key id none of the keys has.
    """
    if settings.manifest_signing_keys is None:
        return None
    keys = load_signing_keys(settings.manifest_signing_keys)
    wanted = settings.manifest_signing_key_id
    if wanted is None:
        key = keys[0]
    else:
        found = [key for key in keys if key.key_id == wanted]
        if not found:
            ids = ", ".join(key.key_id for key in keys)
            raise ValueError(
                f"GCC_MANIFEST_SIGNING_KEY_ID={wanted} is none of the keys in "
                f"{settings.manifest_signing_keys} ({ids})"
            )
        key = found[0]
    return ManifestSigner(key=key, validity=settings.manifest_validity)


def build_manifest(
    release: Release, artifacts: Sequence[Artifact], *, forced_deadline: timedelta, now: datetime
) -> ReleaseManifest:
    """The unsigned manifest of a release being published, from its stored artifacts."""
    stored = sorted(
        (artifact for artifact in artifacts if artifact.removed_at is None),
        key=lambda artifact: artifact.type,
    )
    types = [
        deployment_type
        for artifact in stored
        for deployment_type in _DEPLOYMENT_TYPES_OF[ArtifactType(artifact.type)]
    ]
    return ReleaseManifest(
        release_id=release.id,
        version=Version.parse(release.version),
        deployment_types=sorted(types),
        artifacts=[
            ManifestArtifact(
                type=ArtifactType(artifact.type),
                object_name=artifact.bucket_path,
                sha256=artifact.sha256,
                size_bytes=artifact.size_bytes,
            )
            for artifact in stored
        ],
        image_tags=release.image_tags,
        is_forced=release.is_forced,
        forced_deadline=(now + forced_deadline).replace(microsecond=0)
        if release.is_forced
        else None,
        min_current_version=(
            Version.parse(release.min_current_version) if release.min_current_version else None
        ),
        issued_at=now,
        expires_at=now,
        key_id="0" * 16,  # replaced when signed
    )


def stored_manifest(release: Release) -> SignedManifest | None:
    """The manifest stored with the release, None for one published unsigned."""
    data: dict[str, Any] | None = release.signed_manifest
    return SignedManifest.model_validate(data) if data else None


def current_manifest(
    release: Release, *, signer: ManifestSigner | None, now: datetime
) -> SignedManifest | None:
    """The release's manifest as it is sent now: the stored one, or the same content signed
    afresh when it is half expired or signed by another key (see the module docstring)."""
    signed = stored_manifest(release)
    if signed is None or signer is None:
        return signed
    manifest = signed.manifest
    remaining = manifest.expires_at - now
    if manifest.key_id == signer.key.key_id and remaining > signer.validity / 2:
        return signed
    log.info(
        "release.manifest.resigned",
        version=release.version,
        previous_key_id=manifest.key_id,
        key_id=signer.key.key_id,
    )
    return signer.sign(manifest, now=now)


async def sign_at_publish(
    session: AsyncSession,
    *,
    release: Release,
    signer: ManifestSigner | None,
    forced_deadline: timedelta,
    now: datetime,
) -> None:
    """Sign the manifest of a release being published and store it with the release."""
    if signer is None:
        log.warning("release.manifest.unsigned", version=release.version, reason="no_signing_key")
        return
    artifacts = await artifact_service.artifacts_of_version(session, release.version)
    manifest = build_manifest(release, artifacts, forced_deadline=forced_deadline, now=now)
    release.signed_manifest = signer.sign(manifest, now=now).model_dump(mode="json")
