"""Queries of the artifacts domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType
from customer_backend.artifacts.models import LocalArtifact


async def upsert_artifact(
    session: AsyncSession,
    *,
    version: str,
    artifact_type: ArtifactType,
    bucket_key: str,
    sha256: str,
    size_bytes: int,
    now: datetime,
) -> LocalArtifact:
    """Record a verified artifact; a row of the same version and type is brought back to life."""
    statement = (
        insert(LocalArtifact)
        .values(
            id=uuid.uuid4(),
            version=version,
            type=str(artifact_type),
            bucket_key=bucket_key,
            sha256=sha256,
            size_bytes=size_bytes,
            is_current=False,
            is_previous=False,
            created_at=now,
            removed_at=None,
        )
        .on_conflict_do_update(
            constraint="uq_local_artifact_version_type",
            set_={
                "bucket_key": bucket_key,
                "sha256": sha256,
                "size_bytes": size_bytes,
                "created_at": now,
                "removed_at": None,
            },
        )
        .returning(col(LocalArtifact.id))
    )
    artifact_id = (await session.exec(statement)).one()
    artifact = await session.get(LocalArtifact, artifact_id, populate_existing=True)
    assert artifact is not None  # just written in this transaction
    return artifact


async def get_artifact(
    session: AsyncSession, *, version: str, artifact_type: ArtifactType
) -> LocalArtifact | None:
    """The artifact row of a version and type, removed or not."""
    result = await session.exec(
        select(LocalArtifact).where(
            LocalArtifact.version == version, LocalArtifact.type == str(artifact_type)
        )
    )
    return result.first()


async def current_artifact(
    session: AsyncSession, *, artifact_type: ArtifactType
) -> LocalArtifact | None:
    """The current artifact of a type, unless retention removed it."""
    result = await session.exec(
        select(LocalArtifact).where(
            LocalArtifact.type == str(artifact_type),
            col(LocalArtifact.is_current),
            col(LocalArtifact.removed_at).is_(None),
        )
    )
    return result.first()


async def flagged_keys(session: AsyncSession, *, artifact_type: ArtifactType) -> set[str]:
    """Bucket keys of the current and previous artifacts of a type still in the bucket."""
    flagged = await session.exec(
        select(LocalArtifact.bucket_key).where(
            LocalArtifact.type == str(artifact_type),
            col(LocalArtifact.removed_at).is_(None),
            col(LocalArtifact.is_current) | col(LocalArtifact.is_previous),
        )
    )
    return set(flagged.all())


async def mark_removed(session: AsyncSession, *, keys: Iterable[str], now: datetime) -> int:
    """Record that retention deleted these keys; the number of rows marked."""
    key_list = list(keys)
    if not key_list:
        return 0
    result = await session.exec(
        update(LocalArtifact)
        .where(col(LocalArtifact.bucket_key).in_(key_list), col(LocalArtifact.removed_at).is_(None))
        .values(removed_at=now, is_current=False, is_previous=False)
    )
    return int(result.rowcount)


async def set_current(
    session: AsyncSession, *, artifact_type: ArtifactType, version: str
) -> tuple[str | None, str]:
    """Make ``version`` current and the version that was current previous.

    Returns (previous version or None, current version). Deploying the current version again
    changes nothing.
    """
    type_text = str(artifact_type)
    current = (
        await session.exec(
            select(LocalArtifact)
            .where(LocalArtifact.type == type_text, col(LocalArtifact.is_current))
            .with_for_update()
        )
    ).first()
    if current is not None and current.version == version:
        return previous_version_of(await _previous(session, type_text)), version
    await session.exec(
        update(LocalArtifact)
        .where(col(LocalArtifact.type) == type_text)
        .values(is_current=col(LocalArtifact.version) == version, is_previous=False)
    )
    previous_version = current.version if current is not None else None
    if previous_version is not None:
        await session.exec(
            update(LocalArtifact)
            .where(
                col(LocalArtifact.type) == type_text,
                col(LocalArtifact.version) == previous_version,
            )
            .values(is_previous=True)
        )
    return previous_version, version


async def _previous(session: AsyncSession, type_text: str) -> LocalArtifact | None:
    result = await session.exec(
        select(LocalArtifact).where(LocalArtifact.type == type_text, col(LocalArtifact.is_previous))
    )
    return result.first()


async def previous_artifact(
    session: AsyncSession, artifact_type: ArtifactType
) -> LocalArtifact | None:
    """The artifact flagged previous of a type, if any."""
    return await _previous(session, str(artifact_type))


def previous_version_of(artifact: LocalArtifact | None) -> str | None:
    """The artifact's version, or None."""
    return artifact.version if artifact is not None else None
