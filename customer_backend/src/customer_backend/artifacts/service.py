"""Artifacts in this installation's bucket: their keys, rows, flags, and keeping 10 per type.

A release's artifact reaches the bucket through :mod:`customer_backend.artifacts.staging`,
which downloads it from GCC into a staging file, keeps it only when its SHA256 equals both the
release's digest and GCC's ``X-Sha256`` header, and then stores it; memory stays bounded by
one chunk whatever the artifact's size.
"""

from __future__ import annotations

from collections.abc import Set

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType
from customer_backend.artifacts import repository
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.installation import service as installation
from objectstore import ObjectInfo, ObjectStore
from timekeeping import Clock

log = structlog.get_logger(__name__)

ARTIFACT_CONTENT_TYPE = "application/gzip"
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
SHA256_HEADER = "X-Sha256"
_ERROR_BODY_PREVIEW = 300


class ArtifactFetchError(Exception):
    """An artifact could not be fetched, or failed verification; nothing was stored."""


class ChecksumMismatch(ArtifactFetchError):
    """The downloaded bytes do not hash to the expected SHA256."""


def artifact_prefix(artifact_type: ArtifactType) -> str:
    """The bucket folder of one artifact type (what retention sweeps)."""
    return f"artifacts/{artifact_type}/"


def artifact_key(artifact_type: ArtifactType, version: str) -> str:
    """The bucket key of a version's Helm chart or Compose bundle."""
    if artifact_type is ArtifactType.HELM:
        return f"{artifact_prefix(artifact_type)}wrktalk-{version}.tgz"
    return f"{artifact_prefix(artifact_type)}wrktalk-{version}-compose.tar.gz"


async def record_artifact(
    session: AsyncSession,
    *,
    clock: Clock,
    version: str,
    artifact_type: ArtifactType,
    info: ObjectInfo,
) -> LocalArtifact:
    """Record a verified artifact in the bucket (a removed row of the same version returns)."""
    if info.sha256 is None:
        raise ValueError("only a verified upload (with its SHA256) can be recorded")
    return await repository.upsert_artifact(
        session,
        version=version,
        artifact_type=artifact_type,
        bucket_key=info.key,
        sha256=info.sha256,
        size_bytes=info.size,
        now=clock.now(),
    )


async def find_artifact(
    session: AsyncSession, *, version: str, artifact_type: ArtifactType
) -> LocalArtifact | None:
    """The artifact of a version still in the bucket, or None (never fetched, or removed)."""
    artifact = await repository.get_artifact(session, version=version, artifact_type=artifact_type)
    if artifact is None or artifact.removed_at is not None:
        return None
    return artifact


async def get_artifact(
    session: AsyncSession, *, version: str, artifact_type: ArtifactType
) -> LocalArtifact | None:
    """The artifact row of a version, removed from the bucket or not (its SHA256 stays known)."""
    return await repository.get_artifact(session, version=version, artifact_type=artifact_type)


async def previous_version(session: AsyncSession, *, artifact_type: ArtifactType) -> str | None:
    """The version that ran before the current one (its artifact is flagged previous)."""
    artifact = await repository.previous_artifact(session, artifact_type)
    return repository.previous_version_of(artifact)


async def current_artifact(
    session: AsyncSession, *, artifact_type: ArtifactType
) -> LocalArtifact | None:
    """The artifact of the version that runs now, while it is in the bucket."""
    return await repository.current_artifact(session, artifact_type=artifact_type)


async def apply_retention(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    artifact_type: ArtifactType,
    keep: int,
    protect: Set[str] = frozenset(),
) -> list[str]:
    """Keep the ``keep`` newest artifacts of a type; return the keys deleted, oldest first.

    Never deleted, whatever their age: the current and previous artifacts, the version the
    installation runs, and ``protect`` (the caller adds what deployments and agent tasks still
    need). Rows of deleted artifacts get ``removed_at``.
    """
    protected = set(protect) | await repository.flagged_keys(session, artifact_type=artifact_type)
    running = await installation.current_version(session)
    if running is not None:
        protected.add(artifact_key(artifact_type, running))
    removed = await object_store.keep_latest(
        artifact_prefix(artifact_type), keep, protect=protected
    )
    if removed:
        await repository.mark_removed(session, keys=removed, now=clock.now())
        log.info(
            "artifacts.retention.removed",
            artifact_type=str(artifact_type),
            keys=removed,
            kept=keep,
        )
    return removed


async def set_current_artifact(
    session: AsyncSession, *, artifact_type: ArtifactType, version: str
) -> str | None:
    """Flag ``version`` current and the formerly current one previous; the previous version.

    Called when a deployment or rollback of ``version`` succeeded.
    """
    previous, _ = await repository.set_current(
        session, artifact_type=artifact_type, version=version
    )
    return previous
