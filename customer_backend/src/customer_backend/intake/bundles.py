"""Importing an offline release bundle: a release that reached this installation by hand.

``customer-backend release import`` and the Control Tower's upload form both call
:func:`import_bundle`. In order, nothing stored until every check before it has passed:

1. the license allows new releases (as for a webhook);
2. the bundle's members are safe and exactly what its manifest lists (``bundle_reader``);
3. ``release.json`` is signed by a trusted key (no webhook secret authenticates a file carried
   by hand); the manifest verifies (trusted key, signature, expiry), agrees with
   ``release.json``, and names this organization: a bundle signed for no organization, or
   another one, is refused;
4. the release is not here already, and has the artifact this installation deploys;
5. every other artifact is read through and checked against its signed SHA256 and size; this
   installation's artifact is streamed into the bucket (a multipart upload for a large one),
   checked the same way as it goes, and abandoned (nothing left in the bucket) when it differs;
6. the release is recorded by :func:`~customer_backend.intake.service.record_release`, as a
   webhook's is, with the stored artifact: the admins are emailed, it can be scheduled, and the
   agent verifies the manifest and artifact again before it deploys. Should recording fail,
   the object stored in step 5 is deleted again.

A refusal is a :class:`~customer_backend.intake.bundle_reader.BundleRefused` (422) naming the
reason, or 403 (license) and 409 (release already here); it is logged, and, unlike a webhook's
refused manifest, not emailed: the person importing reads it at once, and nothing is stored.
"""

from __future__ import annotations

import asyncio
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import structlog

from archivesafety import ArchiveUnreadable, open_archive
from contracts import (
    ArtifactType,
    ManifestArtifact,
    ReleaseManifest,
)
from contracts.bundles import (
    bundle_artifact_name,
)
from customer_backend.artifacts.service import ARTIFACT_CONTENT_TYPE, artifact_key
from customer_backend.intake import cleanup, repository
from customer_backend.intake.bundle_reader import (
    BundleContents,
    BundleRefused,
    read_bundle,
    unreadable,
    verified_chunks,
)
from customer_backend.intake.manifests import check_release_manifest, trusted_keys
from customer_backend.intake.service import ensure_license_valid, record_release
from customer_backend.runtime import Runtime
from customer_backend.settings import Settings
from objectstore import ObjectInfo
from servicekit.db import session_scope
from servicekit.errors import Conflict
from signing import ManifestRefused, verify_document

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BundleImport:
    """A bundle taken in: the new deployment and the artifact stored for it."""

    deployment_id: uuid.UUID
    version: str
    bucket_key: str
    size_bytes: int


async def import_bundle(*, runtime: Runtime, source: Path | BinaryIO) -> BundleImport:
    """Verify the bundle at ``source`` (a path, or a seekable file such as a spooled upload)
    and take its release in; see the module docstring for the order of the checks."""
    settings = runtime.settings
    ensure_license_valid(settings=settings, now=runtime.clock.now())
    with _opened(source) as archive:
        contents = await asyncio.to_thread(read_bundle, archive)
        manifest = _verified_manifest(contents, settings=settings, now=runtime.clock.now())
        mine = _artifact_deployed_here(manifest, settings=settings)
        await _refuse_known_release(runtime, manifest)
        for artifact in manifest.artifacts:
            if artifact is not mine:
                await _read_through(archive, contents, artifact)
        info, replaced = await _store(runtime, archive, contents, mine)
    try:
        async with session_scope(runtime.session_factory) as session:
            outcome = await record_release(
                session,
                clock=runtime.clock,
                settings=settings,
                webhook=contents.webhook,
                release_data=contents.release_data,
                send_task=runtime.send_task,
                stored_artifact=info,
            )
    except BaseException as failure:
        if not replaced:
            await asyncio.shield(runtime.object_store.delete(info.key))
        if isinstance(failure, ManifestRefused):  # it expired while a large artifact streamed
            raise BundleRefused(
                f"The bundle's signed manifest was refused ({failure.reason}): {failure.message}.",
                field="manifest",
            ) from None
        raise
    assert outcome.deployment_id is not None  # only a withdrawal records no deployment
    log.info(
        "intake.bundle.imported",
        release_id=str(manifest.release_id),
        version=str(manifest.version),
        deployment_id=str(outcome.deployment_id),
        key=info.key,
        size_bytes=info.size,
    )
    await cleanup.apply_retention(runtime, mine.type, protect={info.key})
    return BundleImport(
        deployment_id=outcome.deployment_id,
        version=str(manifest.version),
        bucket_key=info.key,
        size_bytes=info.size,
    )


@contextmanager
def _opened(source: Path | BinaryIO) -> Iterator[tarfile.TarFile]:
    try:
        with open_archive(source) as archive:
            yield archive
    except ArchiveUnreadable as error:
        raise unreadable(error) from None


def _verified_manifest(
    contents: BundleContents, *, settings: Settings, now: datetime
) -> ReleaseManifest:
    """The bundle's manifest once it verifies, agrees with ``release.json`` and names this
    organization."""
    if contents.signed.manifest.organization is None:
        raise BundleRefused(
            "The bundle's manifest is signed for no organization: GCC signs a bundle for the "
            "one organization it is exported for (gcc release export --org).",
            field="manifest",
        )
    try:
        verify_document(contents.release_bytes, contents.release_signature, trusted_keys(settings))
    except ManifestRefused as refusal:
        raise BundleRefused(
            f"release.json's signature was refused ({refusal.reason}): {refusal.message}.",
            field="manifest",
        ) from None
    try:
        manifest = check_release_manifest(contents.webhook, settings=settings, now=now)
    except ManifestRefused as refusal:
        log.error(
            "intake.manifest.refused",
            release_id=str(contents.webhook.release.id),
            version=str(contents.webhook.release.version),
            reason=str(refusal.reason),
            error=refusal.message,
            source="bundle",
        )
        raise BundleRefused(
            f"The bundle's signed manifest was refused ({refusal.reason}): {refusal.message}.",
            field="manifest",
        ) from None
    assert manifest is not None  # the bundle carries one: it is never an unsigned release
    return manifest


def _artifact_deployed_here(manifest: ReleaseManifest, *, settings: Settings) -> ManifestArtifact:
    artifact_type = settings.deployment_type.artifact_type
    artifact = manifest.artifact_of(artifact_type)
    if artifact is None:
        raise BundleRefused(
            f"Release {manifest.version} has no {artifact_type} artifact, which this "
            f"{settings.deployment_type} installation deploys."
        )
    return artifact


async def _refuse_known_release(runtime: Runtime, manifest: ReleaseManifest) -> None:
    async with session_scope(runtime.session_factory) as session:
        existing = await repository.find_deployment_of_release(session, manifest.release_id)
    if existing is not None:
        raise Conflict(
            f"Release {manifest.version} is here already (received "
            f"{existing.received_at:%Y-%m-%d %H:%M} UTC, {existing.status}); nothing was "
            "imported.",
            field="bundle",
        )


async def _read_through(
    archive: tarfile.TarFile, contents: BundleContents, artifact: ManifestArtifact
) -> None:
    """Check an artifact this installation does not deploy, without storing it."""
    member = _member_of(contents, artifact)
    async for _ in verified_chunks(archive, member, artifact):
        pass


async def _store(
    runtime: Runtime,
    archive: tarfile.TarFile,
    contents: BundleContents,
    artifact: ManifestArtifact,
) -> tuple[ObjectInfo, bool]:
    """Stream the artifact into the bucket, verified on the way; its info, and whether an
    object was at its key already (then it is never deleted on a later failure)."""
    key = artifact_key(ArtifactType(artifact.type), str(contents.signed.manifest.version))
    replaced = await runtime.object_store.head(key) is not None
    info = await runtime.object_store.put_stream(
        key,
        verified_chunks(archive, _member_of(contents, artifact), artifact),
        content_type=ARTIFACT_CONTENT_TYPE,
    )
    return info, replaced


def _member_of(contents: BundleContents, artifact: ManifestArtifact) -> tarfile.TarInfo:
    return contents.artifact_members[bundle_artifact_name(artifact)]
