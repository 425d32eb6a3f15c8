"""Storing CI uploads in the bucket, retention, and handing artifacts to customers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    ArtifactType,
    ArtifactUploadResponse,
    InvalidVersionError,
    ReleaseStatus,
    Version,
)
from gcc.artifacts import repository
from gcc.artifacts.archive import ArchiveRejected, check_artifact
from gcc.artifacts.models import Artifact
from gcc.artifacts.upload import ReceivedFile, ReceivedForm
from gcc.releases import repository as release_repository
from gcc.settings import Settings
from objectstore import ObjectStore
from servicekit.errors import Conflict, Gone, InvalidInput, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

ARTIFACT_CONTENT_TYPE = "application/gzip"


def artifact_key(artifact_type: ArtifactType, version: str) -> str:
    """Where an artifact lives in the bucket (spec 3.1)."""
    if artifact_type is ArtifactType.HELM:
        return f"charts/helm/wrktalk-{version}.tgz"
    return f"charts/compose/wrktalk-{version}-compose.tar.gz"


def parse_version_text(text: str, *, field: str = "version") -> Version:
    """A version from a form field or path segment; 422 naming ``field`` when it is not one."""
    try:
        return Version.parse(text.strip())
    except InvalidVersionError as exc:
        raise InvalidInput(f"{field}: {exc}", field=field) from None


def _parse_artifact_type(text: str | None) -> ArtifactType:
    if text is None:
        raise InvalidInput("type: the field is required (helm or compose)", field="type")
    try:
        return ArtifactType(text.strip())
    except ValueError:
        raise InvalidInput(
            f"type: {text!r} is not an artifact type; expected helm or compose", field="type"
        ) from None


def upload_response(artifact: Artifact) -> ArtifactUploadResponse:
    """The answer to an upload."""
    return ArtifactUploadResponse(
        id=artifact.id,
        type=ArtifactType(artifact.type),
        version=Version.parse(artifact.version),
        bucket_path=artifact.bucket_path,
        sha256=artifact.sha256,
        size_bytes=artifact.size_bytes,
    )


async def store_uploaded_artifact(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    form: ReceivedForm,
) -> Artifact:
    """Check the fields of an upload form, then store its file (see :func:`store_artifact`)."""
    artifact_type = _parse_artifact_type(form.fields.get("type"))
    raw_version = form.fields.get("version")
    if raw_version is None:
        raise InvalidInput("version: the field is required", field="version")
    version = parse_version_text(raw_version)
    if form.file is None:
        raise InvalidInput("file: the field is required", field="file")
    if form.file.size == 0:
        raise InvalidInput("file: the file is empty", field="file")
    return await store_artifact(
        session,
        clock=clock,
        settings=settings,
        object_store=object_store,
        artifact_type=artifact_type,
        version=version,
        upload=form.file,
    )


async def _refuse_final_release(session: AsyncSession, version: str, *, lock: bool) -> None:
    release = await release_repository.get_by_version(session, version, for_update=lock)
    if release is not None and release.status != ReleaseStatus.DRAFT:
        raise Conflict(
            f"Release {version} is {release.status}; its artifacts can no longer change.",
            field="version",
        )


async def store_artifact(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    artifact_type: ArtifactType,
    version: Version,
    upload: ReceivedFile,
) -> Artifact:
    """Validate a received file, put it at its key, record it, and apply retention.

    The artifacts of a published (or deprecated) release are final: 409. A draft's, or those of
    a version without a release, are replaced. Nothing is stored unless the archive is valid,
    and the row is written only once the object is, so a failed upload leaves neither.
    """
    version_text = str(version)
    key = artifact_key(artifact_type, version_text)
    await _refuse_final_release(session, version_text, lock=False)
    try:
        await asyncio.to_thread(check_artifact, upload.path, artifact_type, version)
    except ArchiveRejected as exc:
        log.info(
            "artifact.upload.rejected",
            version=version_text,
            type=str(artifact_type),
            reason=str(exc),
        )
        raise InvalidInput(f"file: {exc}", field="file") from None
    # Checked again under the locks: the release may have been published meanwhile.
    await repository.lock_key(session, key)
    await _refuse_final_release(session, version_text, lock=True)
    previous = await repository.get(session, version_text, artifact_type)
    info = await object_store.put_file(key, upload.path, content_type=ARTIFACT_CONTENT_TYPE)
    try:
        if info.sha256 is not None and info.sha256 != upload.sha256:
            raise RuntimeError("the stored object does not match the received bytes")
        artifact = await repository.upsert(
            session,
            version=version_text,
            artifact_type=artifact_type,
            bucket_path=key,
            sha256=upload.sha256,
            size_bytes=upload.size,
            uploaded_at=clock.now(),
        )
    except BaseException:
        # Without a previous row nothing may refer to this object; with one, the object is
        # the replacement of a draft's artifact and the row will be retried by CI.
        if previous is None:
            await object_store.delete(key)
        raise
    log.info(
        "artifact.upload.stored",
        version=version_text,
        type=str(artifact_type),
        key=key,
        sha256=upload.sha256,
        size_bytes=upload.size,
    )
    await apply_retention(
        session,
        clock=clock,
        object_store=object_store,
        artifact_type=artifact_type,
        keep=settings.artifact_retention,
    )
    return artifact


async def apply_retention(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    artifact_type: ArtifactType,
    keep: int,
) -> list[str]:
    """Delete the objects of all but the ``keep`` newest uploads of a type; return versions.

    Newest means most recently uploaded, so the upload that triggers the sweep is always kept.
    The rows stay with ``removed_at`` set, so a download of a removed version answers 410.
    """
    expired = await repository.beyond_retention(session, artifact_type, keep)
    if not expired:
        return []
    await repository.mark_removed(session, (artifact.id for artifact in expired), clock.now())
    await session.flush()
    for artifact in expired:
        await object_store.delete(artifact.bucket_path)
    versions = [artifact.version for artifact in expired]
    log.info("artifact.retention.removed", type=str(artifact_type), versions=versions)
    return versions


@dataclass(frozen=True)
class ArtifactDownload:
    """What a customer download streams: the object and the headers that describe it."""

    key: str
    sha256: str
    size_bytes: int
    filename: str


async def find_download(
    session: AsyncSession,
    *,
    object_store: ObjectStore,
    version_text: str,
    artifact_type: ArtifactType,
) -> ArtifactDownload:
    """The artifact a customer may download: of a published (or deprecated) release only.

    404 for an unknown version or type and for drafts, 410 once retention removed it.
    """
    version = str(parse_version_text(version_text))
    release = await release_repository.get_by_version(session, version)
    artifact = await repository.get(session, version, artifact_type)
    if release is None or release.status == ReleaseStatus.DRAFT or artifact is None:
        raise NotFound(f"No {artifact_type} artifact of version {version} is available.")
    if artifact.removed_at is not None:
        raise Gone(
            f"The {artifact_type} artifact of version {version} was removed by retention "
            f"on {artifact.removed_at.isoformat()}."
        )
    if await object_store.head(artifact.bucket_path) is None:
        log.error("artifact.download.missing_object", key=artifact.bucket_path)
        raise NotFound(f"The {artifact_type} artifact of version {version} is not stored.")
    return ArtifactDownload(
        key=artifact.bucket_path,
        sha256=artifact.sha256,
        size_bytes=artifact.size_bytes,
        filename=artifact.bucket_path.rsplit("/", 1)[-1],
    )
