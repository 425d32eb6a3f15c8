"""One-time sign-in links: single use, short-lived, stored only as a hash.

A person types their address; the tier looks them up and, when known, calls
:func:`issue_sign_in_link` and emails the token in a link. Following the link shows a page
(:func:`check_sign_in_link` tells whether it is still good, without spending it) whose button
posts to :func:`redeem_sign_in_link`, which spends it in one statement: two clicks, or a link
scanner and a person, never both get a session. A mail scanner that fetches the link therefore
does not use it up.

The tier owns the table: ``class ConsoleSignInLink(TierTableBase, SignInLinkFields,
table=True)`` with a ``__tablename__`` of its choice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.secrets import new_token, token_digest
from timekeeping import Clock

SIGN_IN_LINK_LIFETIME = timedelta(minutes=15)
"""How long a sign-in link is good for unless the tier says otherwise."""


class SignInLinkFields(SQLModel):
    """The columns of a tier's sign-in link table."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    principal_id: uuid.UUID = Field(index=True)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    used_at: datetime | None = Field(
        default=None, sa_type=sa.DateTime(timezone=True), nullable=True
    )


L = TypeVar("L", bound=SignInLinkFields)


class LinkState(StrEnum):
    """What a presented sign-in link is."""

    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class LinkCheck:
    """A link's state and, when it is valid or was valid, whose it is."""

    state: LinkState
    principal_id: uuid.UUID | None = None


async def issue_sign_in_link(
    session: AsyncSession,
    *,
    table: type[L],
    clock: Clock,
    principal_id: uuid.UUID,
    lifetime: timedelta = SIGN_IN_LINK_LIFETIME,
) -> str:
    """Store a new link for ``principal_id`` and return its token (shown only now).

    Earlier unused links of the same person stay valid until they expire: a person who asks
    twice and clicks the first email still gets in.
    """
    token = new_token()
    now = clock.now()
    session.add(
        table(
            token_hash=token_digest(token),
            principal_id=principal_id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def check_sign_in_link(
    session: AsyncSession, *, table: type[L], clock: Clock, token: str
) -> LinkCheck:
    """The state of the link with ``token``, without spending it."""
    result = await session.exec(select(table).where(col(table.token_hash) == token_digest(token)))
    link = result.first()
    if link is None:
        return LinkCheck(LinkState.UNKNOWN)
    if link.used_at is not None:
        return LinkCheck(LinkState.USED, link.principal_id)
    if link.expires_at <= clock.now():
        return LinkCheck(LinkState.EXPIRED, link.principal_id)
    return LinkCheck(LinkState.VALID, link.principal_id)


async def redeem_sign_in_link(
    session: AsyncSession, *, table: type[L], clock: Clock, token: str
) -> LinkCheck:
    """Spend the link with ``token``: ``VALID`` with its principal once, never twice.

    The conditional update is the single-use guarantee: of two concurrent redemptions, one
    updates the row and the other finds it used.
    """
    now = clock.now()
    statement = (
        update(table)
        .where(
            col(table.token_hash) == token_digest(token),
            col(table.used_at).is_(None),
            col(table.expires_at) > now,
        )
        .values(used_at=now)
        .returning(col(table.principal_id))
    )
    spent = (await session.exec(statement)).scalar_one_or_none()
    if spent is not None:
        return LinkCheck(LinkState.VALID, spent)
    return await check_sign_in_link(session, table=table, clock=clock, token=token)


async def purge_sign_in_links(
    session: AsyncSession, *, table: type[L], clock: Clock, older_than: timedelta
) -> int:
    """Delete links that expired more than ``older_than`` ago; returns how many."""
    statement = sa.delete(table).where(col(table.expires_at) < clock.now() - older_than)
    result = await session.exec(statement)
    return int(result.rowcount or 0)
