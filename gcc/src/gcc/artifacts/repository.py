"""Queries of the artifacts domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.artifacts.models import Artifact


async def lock_key(session: AsyncSession, key: str) -> None:
    """Serialise uploads to one bucket key until the transaction ends.

    Two uploads of the same version and type would otherwise interleave their object writes
    and row upserts, leaving a row whose digest is not that of the stored object.
    """
    await session.exec(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"),  # type: ignore[call-overload]
        params={"key": key},
    )


async def get(
    session: AsyncSession, version: str, artifact_type: str, *, for_update: bool = False
) -> Artifact | None:
    """The artifact of that version and type, removed or not."""
    statement = select(Artifact).where(Artifact.version == version, Artifact.type == artifact_type)
    if for_update:
        # Re-read the row under the lock even when the session already holds a copy.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    result = await session.exec(statement)
    return result.first()


async def upsert(
    session: AsyncSession,
    *,
    version: str,
    artifact_type: str,
    bucket_path: str,
    sha256: str,
    size_bytes: int,
    uploaded_at: datetime,
) -> Artifact:
    """Insert the artifact, or replace the row of the same version and type."""
    values = {
        "bucket_path": bucket_path,
        "sha256": sha256,
        "size_bytes": size_bytes,
        "created_at": uploaded_at,
        "removed_at": None,
    }
    statement = (
        insert(Artifact)
        .values(id=uuid.uuid4(), version=version, type=artifact_type, **values)
        .on_conflict_do_update(constraint="uq_artifact_version_type", set_=values)
        .returning(Artifact)
    )
    result = await session.exec(statement)
    artifact: Artifact = result.scalar_one()
    # The ORM may hold an older copy of this row; the statement above is the truth.
    await session.refresh(artifact)
    return artifact


async def stored_of_type(session: AsyncSession, artifact_type: str) -> Sequence[Artifact]:
    """The stored (not yet removed) artifacts of a type, newest upload first, locked."""
    result = await session.exec(
        select(Artifact)
        .where(Artifact.type == artifact_type, col(Artifact.removed_at).is_(None))
        .order_by(col(Artifact.created_at).desc(), col(Artifact.version).desc())
        .with_for_update()
    )
    return result.all()


async def stored_before(session: AsyncSession, uploaded_before: datetime) -> Sequence[Artifact]:
    """The stored artifacts uploaded before ``uploaded_before``, oldest first, locked; rows
    another transaction holds (an upload replacing one) are skipped."""
    result = await session.exec(
        select(Artifact)
        .where(col(Artifact.removed_at).is_(None), col(Artifact.created_at) < uploaded_before)
        .order_by(col(Artifact.created_at))
        .with_for_update(skip_locked=True)
    )
    return result.all()


async def mark_removed(
    session: AsyncSession, artifact_ids: Iterable[uuid.UUID], removed_at: datetime
) -> None:
    """Record that retention deleted these artifacts' objects."""
    ids = list(artifact_ids)
    if not ids:
        return
    await session.exec(
        update(Artifact).where(col(Artifact.id).in_(ids)).values(removed_at=removed_at)
    )


async def for_versions(session: AsyncSession, versions: Iterable[str]) -> Sequence[Artifact]:
    """Every artifact row of these versions."""
    names = list(set(versions))
    if not names:
        return []
    result = await session.exec(select(Artifact).where(col(Artifact.version).in_(names)))
    return result.all()


async def retained(session: AsyncSession) -> Sequence[Artifact]:
    """Every stored (not removed) artifact, by type, newest upload first; read only."""
    result = await session.exec(
        select(Artifact)
        .where(col(Artifact.removed_at).is_(None))
        .order_by(col(Artifact.type), col(Artifact.created_at).desc(), col(Artifact.version))
    )
    return result.all()
