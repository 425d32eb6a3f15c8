"""Storing CI uploads in the bucket, retention, and handing artifacts to customers.

Whether a version's artifacts may still change, or may be downloaded, follows from the state of
its release, which the releases domain owns: these functions ask it through a
:class:`ReleaseStatusLookup` handed in by the caller (the routes get
``releases.service.release_status`` from ``gcc.deps``), so artifacts never import releases.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    ArtifactType,
    ArtifactUploadResponse,
    InvalidVersionError,
    ReleaseStatus,
    Version,
    parse_version_text,
)
from gcc import metrics
from gcc.artifacts import repository
from gcc.artifacts.archive import ArchiveRejected, check_artifact
from gcc.artifacts.models import Artifact
from gcc.artifacts.retention import ReleaseStatusLookup, apply_retention
from gcc.artifacts.upload import ReceivedFile, ReceivedForm
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


def _version_field(text: str) -> Version:
    try:
        return parse_version_text(text)
    except InvalidVersionError as exc:
        raise InvalidInput(f"version: {exc}", field="version") from None


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
    release_status: ReleaseStatusLookup,
) -> Artifact:
    """Check the fields of an upload form, then store its file (see :func:`store_artifact`)."""
    artifact_type = _parse_artifact_type(form.fields.get("type"))
    raw_version = form.fields.get("version")
    if raw_version is None:
        raise InvalidInput("version: the field is required", field="version")
    version = _version_field(raw_version)
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
        release_status=release_status,
    )


async def _refuse_final_release(
    session: AsyncSession, release_status: ReleaseStatusLookup, version: str, *, lock: bool
) -> None:
    status = await release_status(session, version=version, lock=lock)
    if status is not None and status != ReleaseStatus.DRAFT:
        raise Conflict(
            f"Release {version} is {status}; its artifacts can no longer change.",
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
    release_status: ReleaseStatusLookup,
) -> Artifact:
    """Validate a received file, put it at its key, record it, and apply retention.

    The artifacts of a published (or deprecated) release are final: 409. A draft's, or those of
    a version without a release, are replaced. Nothing is stored unless the archive is valid,
    and the row is written only once the object is, so a failed upload leaves neither.
    """
    version_text = str(version)
    key = artifact_key(artifact_type, version_text)
    await _refuse_final_release(session, release_status, version_text, lock=False)
    await _check_archive(upload, artifact_type, version)
    # Checked again under the locks: the release may have been published meanwhile.
    await repository.lock_key(session, key)
    await _refuse_final_release(session, release_status, version_text, lock=True)
    artifact = await _put_and_record(
        session,
        clock=clock,
        object_store=object_store,
        artifact_type=artifact_type,
        version_text=version_text,
        upload=upload,
    )
    await apply_retention(
        session,
        clock=clock,
        object_store=object_store,
        artifact_type=artifact_type,
        keep=settings.artifact_retention,
        release_status=release_status,
    )
    return artifact


async def _check_archive(
    upload: ReceivedFile, artifact_type: ArtifactType, version: Version
) -> None:
    try:
        await asyncio.to_thread(check_artifact, upload.path, artifact_type, version)
    except ArchiveRejected as exc:
        log.info(
            "artifact.upload.rejected",
            version=str(version),
            type=str(artifact_type),
            reason=str(exc),
        )
        raise InvalidInput(f"file: {exc}", field="file") from None


async def _put_and_record(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    artifact_type: ArtifactType,
    version_text: str,
    upload: ReceivedFile,
) -> Artifact:
    """Put the object at its key, then upsert its row; the object goes again if the row fails
    and nothing else refers to it."""
    key = artifact_key(artifact_type, version_text)
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
    metrics.ARTIFACT_UPLOADS.labels(str(artifact_type)).inc()
    metrics.ARTIFACT_UPLOAD_BYTES.labels(str(artifact_type)).inc(upload.size)
    log.info(
        "artifact.upload.stored",
        version=version_text,
        type=str(artifact_type),
        key=key,
        sha256=upload.sha256,
        size_bytes=upload.size,
    )
    return artifact


@dataclass(frozen=True)
class ArtifactDownload:
    """What a customer download streams: the object and the headers that describe it."""

    key: str
    sha256: str
    size_bytes: int
    filename: str
    version: str
    """The version's canonical text."""


async def find_download(
    session: AsyncSession,
    *,
    object_store: ObjectStore,
    version_text: str,
    artifact_type: ArtifactType,
    release_status: ReleaseStatusLookup,
) -> ArtifactDownload:
    """The artifact a customer may download: of a published (or deprecated) release only.

    ``release_status`` answers as the calling organization may know the release, so a
    release targeted at other organizations is unknown to it. 404 for an unknown version or
    type, for drafts and for another organization's targeted release; 410 once retention
    removed it.
    """
    version = str(_version_field(version_text))
    status = await release_status(session, version=version)
    artifact = await repository.get(session, version, artifact_type)
    if status is None or status == ReleaseStatus.DRAFT or artifact is None:
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
        version=version,
    )


async def artifacts_of_version(session: AsyncSession, version: str) -> list[Artifact]:
    """Every artifact row of a version, removed ones included, by type."""
    return sorted(
        await repository.for_versions(session, [version]), key=lambda artifact: artifact.type
    )


async def available_types(
    session: AsyncSession, versions: Iterable[str]
) -> dict[str, set[ArtifactType]]:
    """For each version, the artifact types stored and not removed by retention."""
    available: dict[str, set[ArtifactType]] = defaultdict(set)
    for artifact in await repository.for_versions(session, versions):
        if artifact.removed_at is None:
            available[artifact.version].add(ArtifactType(artifact.type))
    return available


async def digests(
    session: AsyncSession, versions: Iterable[str]
) -> dict[tuple[str, ArtifactType], str]:
    """The SHA256 of each artifact of these versions, by (version, type)."""
    rows: Sequence[Artifact] = await repository.for_versions(session, versions)
    return {(artifact.version, ArtifactType(artifact.type)): artifact.sha256 for artifact in rows}


async def retained_artifacts(session: AsyncSession) -> dict[ArtifactType, list[Artifact]]:
    """The artifacts retention keeps, per type, newest upload first."""
    kept: dict[ArtifactType, list[Artifact]] = {kind: [] for kind in ArtifactType}
    for artifact in await repository.retained(session):
        kept[ArtifactType(artifact.type)].append(artifact)
    return kept
