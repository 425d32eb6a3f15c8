"""Signing in to the console: one-time links by email, sessions, and who is signed in.

The rules live in :mod:`consolekit`; this module names the tables, the settings and the
admins. Asking for a link answers the same whether or not the address is an admin's, so the
sign-in page tells nobody who the admins are.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.secrets import token_digest
from consolekit.sessions import end_session, end_sessions_of, open_session, resume_session
from consolekit.signin import (
    LinkCheck,
    LinkState,
    check_sign_in_link,
    issue_sign_in_link,
    redeem_sign_in_link,
)
from customer_backend.admins import service as admins
from customer_backend.admins.models import Admin
from customer_backend.console.models import ConsoleSession, ConsoleSignInLink
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.settings import Settings
from servicekit.errors import NotFound
from servicekit.runtime import SendTask
from timekeeping import Clock

log = structlog.get_logger(__name__)

LINKS_PER_WINDOW = 5
"""Most sign-in links one admin is sent within one link lifetime: asking more often sends
nothing, so nobody can fill an admin's inbox from the sign-in page."""

LINK_PATH = "/sign-in/link"


def sign_in_link_url(settings: Settings, token: str) -> str:
    """The address an emailed link opens: the configured console address, never the request's
    Host header, which whoever asks for the link controls."""
    return f"{settings.console_url.rstrip('/')}{LINK_PATH}?token={token}"


async def request_sign_in_link(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    email: str,
    send_task: SendTask | None = None,
) -> None:
    """Email a sign-in link to ``email`` if it is an active admin's; otherwise do nothing.

    The caller answers the same in both cases.
    """
    admin = await admins.find_admin(session, email=email)
    if admin is None or not admin.is_active:
        log.info("console.sign_in.link_not_sent", reason="not an active admin")
        return
    lifetime = timedelta(minutes=settings.console_link_minutes)
    if (
        await _recent_link_count(session, admin.id, since=clock.now() - lifetime)
        >= LINKS_PER_WINDOW
    ):
        log.warning("console.sign_in.link_not_sent", reason="too many links", admin=admin.email)
        return
    await send_sign_in_link(
        session, clock=clock, settings=settings, admin=admin, send_task=send_task
    )


async def send_sign_in_link(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    admin: Admin,
    send_task: SendTask | None = None,
    is_new_admin: bool = False,
) -> None:
    """Store a new one-time link for ``admin`` and queue the email that carries it."""
    lifetime = timedelta(minutes=settings.console_link_minutes)
    token = await issue_sign_in_link(
        session, table=ConsoleSignInLink, clock=clock, principal_id=admin.id, lifetime=lifetime
    )
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.CONSOLE_SIGN_IN,
        dedupe_key=f"console_sign_in:{token_digest(token)}",
        context={
            "link": sign_in_link_url(settings, token),
            "expires_at": clock.now() + lifetime,
            "name": admin.name,
            "is_new_admin": is_new_admin,
        },
        addressed_to=[admin.email],
        send_task=send_task,
    )
    log.info("console.sign_in.link_sent", admin=admin.email)


async def sign_in_link_for_host(
    session: AsyncSession, *, clock: Clock, settings: Settings, email: str
) -> str:
    """A sign-in link for an active admin, printed by the command line on the backend's host
    instead of emailed (a first sign-in before SMTP works, the local stack); 404 otherwise."""
    admin = await admins.find_admin(session, email=email)
    if admin is None or not admin.is_active:
        raise NotFound(f"no active admin with email {email}", field="email")
    token = await issue_sign_in_link(
        session,
        table=ConsoleSignInLink,
        clock=clock,
        principal_id=admin.id,
        lifetime=timedelta(minutes=settings.console_link_minutes),
    )
    log.info("console.sign_in.link_printed", admin=admin.email)
    return sign_in_link_url(settings, token)


async def _recent_link_count(session: AsyncSession, admin_id: uuid.UUID, *, since: datetime) -> int:
    result = await session.exec(
        select(func.count())
        .select_from(ConsoleSignInLink)
        .where(
            col(ConsoleSignInLink.principal_id) == admin_id,
            col(ConsoleSignInLink.created_at) > since,
        )
    )
    return int(result.one())


async def check_link(session: AsyncSession, *, clock: Clock, token: str) -> LinkState:
    """Whether a link can still be used, without using it."""
    check = await check_sign_in_link(session, table=ConsoleSignInLink, clock=clock, token=token)
    return await _state_for_active_admin(session, check)


async def sign_in(
    session: AsyncSession, *, clock: Clock, token: str
) -> tuple[LinkState, Admin | None, str | None]:
    """Spend the link: ``(VALID, admin, session token)``, or the link's state and Nones."""
    check = await redeem_sign_in_link(session, table=ConsoleSignInLink, clock=clock, token=token)
    state = await _state_for_active_admin(session, check)
    if state is not LinkState.VALID or check.principal_id is None:
        log.info("console.sign_in.refused", state=str(state))
        return state, None, None
    admin = await session.get(Admin, check.principal_id)
    assert admin is not None
    session_token = await open_session(
        session, table=ConsoleSession, clock=clock, principal_id=admin.id
    )
    log.info("console.sign_in.succeeded", admin=admin.email)
    return LinkState.VALID, admin, session_token


async def _state_for_active_admin(session: AsyncSession, check: LinkCheck) -> LinkState:
    """A link of an admin deactivated since it was sent is as good as unknown."""
    if check.state is not LinkState.VALID or check.principal_id is None:
        return check.state
    admin = await session.get(Admin, check.principal_id)
    return LinkState.VALID if admin is not None and admin.is_active else LinkState.UNKNOWN


async def signed_in_admin(
    session: AsyncSession, *, clock: Clock, settings: Settings, session_token: str
) -> Admin | None:
    """The active admin of a live session (its last use moved to now), or None."""
    found = await resume_session(
        session,
        table=ConsoleSession,
        clock=clock,
        token=session_token,
        idle_limit=timedelta(hours=settings.console_idle_hours),
    )
    if found is None:
        return None
    admin = await session.get(Admin, found.principal_id)
    return admin if admin is not None and admin.is_active else None


async def sign_out(session: AsyncSession, *, clock: Clock, session_token: str) -> None:
    """End the session of ``session_token``."""
    if await end_session(session, table=ConsoleSession, clock=clock, token=session_token):
        log.info("console.sign_out.succeeded")


async def add_admin(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    email: str,
    name: str,
    role: str,
    send_task: SendTask | None = None,
) -> Admin:
    """Create an admin (the admins domain's rules) and email them a sign-in link; the API
    token is not shown in the console, an admin who needs one for scripts gets it from the
    command line."""
    admin, _token = await admins.create_admin(
        session, clock=clock, email=email, name=name, role=role
    )
    await send_sign_in_link(
        session, clock=clock, settings=settings, admin=admin, send_task=send_task, is_new_admin=True
    )
    return admin


async def deactivate_admin(session: AsyncSession, *, clock: Clock, email: str) -> Admin:
    """Deactivate an admin (token revoked, no more email) and end their console sessions."""
    admin = await admins.deactivate_admin(session, clock=clock, email=email)
    await end_sessions_of(session, table=ConsoleSession, clock=clock, principal_id=admin.id)
    return admin
