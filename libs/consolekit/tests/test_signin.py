import uuid
from datetime import timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.secrets import token_digest
from consolekit.signin import (
    LinkState,
    check_sign_in_link,
    issue_sign_in_link,
    purge_sign_in_links,
    redeem_sign_in_link,
)
from timekeeping import ManualClock

from .conftest import KitSignInLink


async def test_link_is_stored_only_as_its_hash(db: AsyncSession, clock: ManualClock) -> None:
    token = await issue_sign_in_link(
        db, table=KitSignInLink, clock=clock, principal_id=uuid.uuid4()
    )
    rows = (await db.exec(select(KitSignInLink))).all()
    assert [row.token_hash for row in rows] == [token_digest(token)]
    assert token not in rows[0].token_hash


async def test_link_redeems_once_for_its_principal(db: AsyncSession, clock: ManualClock) -> None:
    principal = uuid.uuid4()
    token = await issue_sign_in_link(db, table=KitSignInLink, clock=clock, principal_id=principal)
    first = await redeem_sign_in_link(db, table=KitSignInLink, clock=clock, token=token)
    second = await redeem_sign_in_link(db, table=KitSignInLink, clock=clock, token=token)
    assert (first.state, first.principal_id) == (LinkState.VALID, principal)
    assert second.state is LinkState.USED


async def test_link_expires_after_fifteen_minutes(db: AsyncSession, clock: ManualClock) -> None:
    token = await issue_sign_in_link(
        db, table=KitSignInLink, clock=clock, principal_id=uuid.uuid4()
    )
    clock.advance(timedelta(minutes=14, seconds=59))
    check = await check_sign_in_link(db, table=KitSignInLink, clock=clock, token=token)
    assert check.state is LinkState.VALID
    clock.advance(timedelta(seconds=1))
    redeemed = await redeem_sign_in_link(db, table=KitSignInLink, clock=clock, token=token)
    assert redeemed.state is LinkState.EXPIRED


async def test_checking_a_link_does_not_spend_it(db: AsyncSession, clock: ManualClock) -> None:
    token = await issue_sign_in_link(
        db, table=KitSignInLink, clock=clock, principal_id=uuid.uuid4()
    )
    await check_sign_in_link(db, table=KitSignInLink, clock=clock, token=token)
    redeemed = await redeem_sign_in_link(db, table=KitSignInLink, clock=clock, token=token)
    assert redeemed.state is LinkState.VALID


async def test_unknown_token_is_unknown(db: AsyncSession, clock: ManualClock) -> None:
    redeemed = await redeem_sign_in_link(db, table=KitSignInLink, clock=clock, token="made-up")
    assert (redeemed.state, redeemed.principal_id) == (LinkState.UNKNOWN, None)


async def test_purge_removes_only_long_expired_links(db: AsyncSession, clock: ManualClock) -> None:
    await issue_sign_in_link(db, table=KitSignInLink, clock=clock, principal_id=uuid.uuid4())
    clock.advance(timedelta(days=2))
    fresh = await issue_sign_in_link(
        db, table=KitSignInLink, clock=clock, principal_id=uuid.uuid4()
    )
    removed = await purge_sign_in_links(
        db, table=KitSignInLink, clock=clock, older_than=timedelta(days=1)
    )
    remaining = (await db.exec(select(KitSignInLink.token_hash))).all()
    assert removed == 1
    assert remaining == [token_digest(fresh)]
