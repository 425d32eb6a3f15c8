"""Which stored artifacts go: retention per type, and orphans nobody released.

Both ask the releases domain about each version through the :class:`ReleaseStatusLookup` the
caller hands in, so artifacts never import releases.

- Retention keeps the newest ``keep`` uploads per type among the versions that have a release.
  An orphan (an upload whose release was never created, spec error 1.2) does not count toward
  them, so orphans can never push out a released artifact; and an artifact that a draft or
  published release references is never removed, whatever its age. Past the newest ``keep``,
  only the artifacts of deprecated releases go.
- Orphans are removed by beat once they are older than ``GCC_ORPHAN_ARTIFACT_AGE`` (24 hours):
  time enough for CI to create the release after uploading, or to retry.

Either way the object is deleted and the row stays with ``removed_at`` set, so a download of a
removed version answers 410. Each row is marked only once its object is deleted; a bucket that
refuses a delete stops the cleanup without failing what asked for it (an upload is stored all
the same): the artifacts still due go at the next upload of their type, or the next sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, ReleaseStatus
from gcc.artifacts import repository
from gcc.artifacts.models import Artifact
from objectstore import ObjectStore, ObjectStoreError
from timekeeping import Clock

log = structlog.get_logger(__name__)

_NEVER_EVICTED = frozenset({ReleaseStatus.DRAFT, ReleaseStatus.PUBLISHED})


class ReleaseStatusLookup(Protocol):
    """The status of the release of ``version``, None when no release has that version.

    With ``lock`` the release row stays locked until the transaction ends, so that it cannot be
    published while an upload replaces one of its artifacts.
    """

    async def __call__(
        self, session: AsyncSession, *, version: str, lock: bool = False
    ) -> ReleaseStatus | None: ...


async def _statuses(
    session: AsyncSession, artifacts: Sequence[Artifact], release_status: ReleaseStatusLookup
) -> dict[str, ReleaseStatus | None]:
    versions = {artifact.version for artifact in artifacts}
    return {version: await release_status(session, version=version) for version in versions}


async def _remove(
    session: AsyncSession, *, clock: Clock, object_store: ObjectStore, doomed: list[Artifact]
) -> list[Artifact]:
    """Delete each object, then mark its row; the artifacts removed, up to the first delete
    the bucket refused (logged: the next cleanup tries again)."""
    removed: list[Artifact] = []
    for artifact in doomed:
        try:
            await object_store.delete(artifact.bucket_path)
        except ObjectStoreError as error:
            log.warning(
                "artifact.retention.failed",
                key=artifact.bucket_path,
                left=len(doomed) - len(removed),
                error=str(error),
            )
            break
        await repository.mark_removed(session, [artifact.id], clock.now())
        removed.append(artifact)
    await session.flush()
    return removed


async def apply_retention(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    artifact_type: ArtifactType,
    keep: int,
    release_status: ReleaseStatusLookup,
) -> list[str]:
    """Remove the artifacts of deprecated releases past the ``keep`` newest released uploads
    of a type; the versions removed."""
    stored = await repository.stored_of_type(session, str(artifact_type))
    statuses = await _statuses(session, stored, release_status)
    released = [artifact for artifact in stored if statuses[artifact.version] is not None]
    doomed = [
        artifact for artifact in released[keep:] if statuses[artifact.version] not in _NEVER_EVICTED
    ]
    removed = await _remove(session, clock=clock, object_store=object_store, doomed=doomed)
    versions = [artifact.version for artifact in removed]
    if versions:
        log.info("artifact.retention.removed", type=str(artifact_type), versions=versions)
    return versions


async def remove_orphans(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    older_than: timedelta,
    release_status: ReleaseStatusLookup,
) -> list[str]:
    """Remove the stored artifacts uploaded more than ``older_than`` ago whose version has no
    release; the ``version/type`` of each one removed."""
    candidates = await repository.stored_before(session, clock.now() - older_than)
    statuses = await _statuses(session, candidates, release_status)
    doomed = [artifact for artifact in candidates if statuses[artifact.version] is None]
    gone = await _remove(session, clock=clock, object_store=object_store, doomed=doomed)
    removed = [f"{artifact.version}/{artifact.type}" for artifact in gone]
    if removed:
        log.info("artifact.orphans.removed", artifacts=removed)
    return removed
