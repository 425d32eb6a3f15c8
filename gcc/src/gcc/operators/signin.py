"""Operators signing in to the console: a one-time link by email, then a session.

The links and sessions are consolekit's; this module decides whose they are. An address that
is no active operator's gets the same answer as one that is (nothing is sent), so the sign-in
form does not tell who has an account.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.sessions import end_session, open_session, resume_session
from consolekit.signin import (
    LinkState,
    check_sign_in_link,
    issue_sign_in_link,
    redeem_sign_in_link,
)
from gcc.notifications.email import OutgoingEmail, SmtpMailer, render_email
from gcc.operators import repository
from gcc.operators.models import Operator, OperatorSession, OperatorSignInLink
from gcc.operators.service import get_active_operator
from gcc.settings import Settings
from servicekit.db import after_commit
from timekeeping import Clock

log = structlog.get_logger(__name__)

EmailSender = Callable[[OutgoingEmail], None]


def send_in_background(settings: Settings) -> EmailSender:
    """Send a message on a thread of its own: the request does not wait for the mail server,
    and a failure is logged by the mailer (the operator asks for another link)."""
    mailer = SmtpMailer(settings)

    def send(message: OutgoingEmail) -> None:
        threading.Thread(target=mailer.send_all, args=([message],), daemon=True).start()

    return send


async def request_sign_in_link(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    email: str,
    send: EmailSender,
    next_path: str | None = None,
) -> None:
    """Email a sign-in link to the active operator of ``email``, once the link is committed;
    for any other address, do nothing."""
    operator = await get_active_operator(session, email=email)
    if operator is None:
        log.info("operators.sign_in_link.unknown_address")
        return
    lifetime = timedelta(minutes=settings.console_link_minutes)
    token = await issue_sign_in_link(
        session,
        table=OperatorSignInLink,
        clock=clock,
        principal_id=operator.id,
        lifetime=lifetime,
    )
    query = {"token": token} | ({"next": next_path} if next_path else {})
    message = render_email(
        "sign_in.txt.j2",
        {
            "name": operator.name,
            "link": f"{settings.console_url.rstrip('/')}/sign-in/link?{urlencode(query)}",
            "minutes": round(settings.console_link_minutes),
        },
        [operator.email],
    )
    after_commit(session, lambda: send(message))
    log.info("operators.sign_in_link.issued", email=operator.email)


async def check_link(session: AsyncSession, *, clock: Clock, token: str) -> LinkState:
    """Whether a sign-in link can still be used, without using it."""
    return (
        await check_sign_in_link(session, table=OperatorSignInLink, clock=clock, token=token)
    ).state


async def sign_in(
    session: AsyncSession, *, clock: Clock, token: str
) -> tuple[LinkState, str | None]:
    """Spend the link and open a session: the link's state and the session's token (for the
    cookie). A link of an operator deactivated since it was sent opens nothing."""
    checked = await redeem_sign_in_link(session, table=OperatorSignInLink, clock=clock, token=token)
    if checked.state is not LinkState.VALID or checked.principal_id is None:
        return checked.state, None
    operator = await repository.get_by_id(session, checked.principal_id)
    if operator is None or not operator.is_active:
        return LinkState.UNKNOWN, None
    session_token = await open_session(
        session, table=OperatorSession, clock=clock, principal_id=operator.id
    )
    log.info("operators.sign_in.succeeded", email=operator.email)
    return LinkState.VALID, session_token


async def signed_in_operator(
    session: AsyncSession, *, clock: Clock, settings: Settings, session_token: str
) -> Operator | None:
    """The active operator whose live session this is, or None."""
    found = await resume_session(
        session,
        table=OperatorSession,
        clock=clock,
        token=session_token,
        idle_limit=timedelta(hours=settings.console_idle_hours),
    )
    if found is None:
        return None
    operator = await repository.get_by_id(session, found.principal_id)
    return operator if operator is not None and operator.is_active else None


async def sign_out(session: AsyncSession, *, clock: Clock, session_token: str) -> None:
    """End the session of ``session_token``."""
    await end_session(session, table=OperatorSession, clock=clock, token=session_token)
