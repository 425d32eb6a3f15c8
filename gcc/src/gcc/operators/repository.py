"""Queries of the operators domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gcc.operators.models import Operator


async def get_by_email(session: AsyncSession, email: str) -> Operator | None:
    """The operator of that (lowercased) address, active or not."""
    result = await session.exec(select(Operator).where(Operator.email == email))
    return result.first()


async def get_by_id(session: AsyncSession, operator_id: uuid.UUID) -> Operator | None:
    """The operator of that id."""
    return await session.get(Operator, operator_id)


async def list_all(session: AsyncSession) -> Sequence[Operator]:
    """Every operator, active first, then by name."""
    result = await session.exec(
        select(Operator).order_by(col(Operator.is_active).desc(), col(Operator.name))
    )
    return result.all()
