"""Queries of the config domain: non-essential variables and essential configuration revisions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.config.models import EssentialConfigVersion, NonEssentialEnv

ESSENTIAL_CONFIG_LOCK_KEY = 0x57_52_4B_43_46_47
"""Advisory lock that serialises new essential configuration revisions ("WRKCFG")."""


async def lock_essential_config(session: AsyncSession) -> None:
    """Hold the essential configuration lock until the transaction ends."""
    await session.exec(  # type: ignore[call-overload]
        text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=ESSENTIAL_CONFIG_LOCK_KEY)
    )


async def list_envs(session: AsyncSession) -> list[NonEssentialEnv]:
    """Every non-essential variable, by key."""
    result = await session.exec(select(NonEssentialEnv).order_by(col(NonEssentialEnv.key)))
    return list(result.all())


async def get_env(
    session: AsyncSession, key: str, *, for_update: bool = False
) -> NonEssentialEnv | None:
    """The variable named ``key``, optionally locked."""
    statement = select(NonEssentialEnv).where(NonEssentialEnv.key == key)
    if for_update:
        statement = statement.with_for_update()
    result = await session.exec(statement)
    return result.first()


async def insert_env_if_absent(
    session: AsyncSession,
    *,
    key: str,
    value: str,
    description: str | None,
    category: str | None,
    updated_by: str | None,
    now: datetime,
) -> uuid.UUID | None:
    """Insert a variable unless its key exists; the new id, or None when it existed."""
    statement = (
        insert(NonEssentialEnv)
        .values(
            id=uuid.uuid4(),
            key=key,
            value=value,
            description=description,
            category=category,
            created_at=now,
            updated_at=now,
            updated_by=updated_by,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(NonEssentialEnv.id))
    )
    result = await session.exec(statement)
    row = result.first()
    return row[0] if row is not None else None


async def current_essential_config(
    session: AsyncSession, kind: str
) -> EssentialConfigVersion | None:
    """The current revision of ``kind`` (`values` or `env`)."""
    result = await session.exec(
        select(EssentialConfigVersion)
        .where(EssentialConfigVersion.kind == kind, col(EssentialConfigVersion.is_current))
        .order_by(col(EssentialConfigVersion.revision).desc())
    )
    return result.first()


async def essential_config_by_revision(
    session: AsyncSession, revision: int
) -> EssentialConfigVersion | None:
    """The revision numbered ``revision``."""
    result = await session.exec(
        select(EssentialConfigVersion).where(EssentialConfigVersion.revision == revision)
    )
    return result.first()


async def essential_config_by_bucket_key(
    session: AsyncSession, bucket_key: str
) -> EssentialConfigVersion | None:
    """The revision stored at ``bucket_key``."""
    result = await session.exec(
        select(EssentialConfigVersion).where(EssentialConfigVersion.bucket_key == bucket_key)
    )
    return result.first()


async def highest_revision(session: AsyncSession) -> int:
    """The highest revision number in use, 0 when there is none."""
    result = await session.exec(select(func.max(EssentialConfigVersion.revision)))
    return result.one() or 0


async def list_essential_configs(session: AsyncSession, kind: str) -> list[EssentialConfigVersion]:
    """Every revision of ``kind``, newest first."""
    result = await session.exec(
        select(EssentialConfigVersion)
        .where(EssentialConfigVersion.kind == kind)
        .order_by(col(EssentialConfigVersion.revision).desc())
    )
    return list(result.all())


async def clear_current_essential_config(session: AsyncSession, kind: str) -> None:
    """Mark no revision of ``kind`` as current (before marking the new one)."""
    for version in await list_essential_configs(session, kind):
        if version.is_current:
            version.is_current = False
            session.add(version)
    await session.flush()
