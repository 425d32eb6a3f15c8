import uuid
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.sessions import end_session, end_sessions_of, open_session, resume_session
from timekeeping import ManualClock

from .conftest import KitSession


async def test_session_resumes_with_its_token(db: AsyncSession, clock: ManualClock) -> None:
    principal = uuid.uuid4()
    token = await open_session(db, table=KitSession, clock=clock, principal_id=principal)
    resumed = await resume_session(db, table=KitSession, clock=clock, token=token)
    assert resumed is not None
    assert resumed.principal_id == principal
    assert await resume_session(db, table=KitSession, clock=clock, token=token + "x") is None


async def test_session_ends_after_eight_idle_hours(db: AsyncSession, clock: ManualClock) -> None:
    token = await open_session(db, table=KitSession, clock=clock, principal_id=uuid.uuid4())
    clock.advance(timedelta(hours=7, minutes=59))
    assert await resume_session(db, table=KitSession, clock=clock, token=token) is not None
    clock.advance(timedelta(hours=7, minutes=59))  # used a moment ago: still live
    assert await resume_session(db, table=KitSession, clock=clock, token=token) is not None
    clock.advance(timedelta(hours=8))
    assert await resume_session(db, table=KitSession, clock=clock, token=token) is None
    clock.advance(timedelta(minutes=1))
    assert await resume_session(db, table=KitSession, clock=clock, token=token) is None


async def test_signing_out_ends_the_session(db: AsyncSession, clock: ManualClock) -> None:
    token = await open_session(db, table=KitSession, clock=clock, principal_id=uuid.uuid4())
    assert await end_session(db, table=KitSession, clock=clock, token=token) is True
    assert await resume_session(db, table=KitSession, clock=clock, token=token) is None
    assert await end_session(db, table=KitSession, clock=clock, token=token) is False


async def test_ending_a_principals_sessions_leaves_others(
    db: AsyncSession, clock: ManualClock
) -> None:
    leaving, staying = uuid.uuid4(), uuid.uuid4()
    tokens = [
        await open_session(db, table=KitSession, clock=clock, principal_id=leaving),
        await open_session(db, table=KitSession, clock=clock, principal_id=leaving),
    ]
    kept = await open_session(db, table=KitSession, clock=clock, principal_id=staying)
    assert await end_sessions_of(db, table=KitSession, clock=clock, principal_id=leaving) == 2
    for token in tokens:
        assert await resume_session(db, table=KitSession, clock=clock, token=token) is None
    assert await resume_session(db, table=KitSession, clock=clock, token=kept) is not None
