"""Send queued admin emails over SMTP, one transaction per email, retried with backoff.

A notification row is locked (``FOR UPDATE SKIP LOCKED``) while its email is handed to the SMTP
server, so two workers never send the same row; it is marked sent in the same transaction. An
SMTP failure only moves the row's ``next_attempt_at``: whatever queued the email has committed
long before and never fails because of the mail server.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import structlog
from jinja2 import TemplateError
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend import metrics
from customer_backend.admins.service import active_admin_emails
from customer_backend.notifications.events import email_event
from customer_backend.notifications.models import Notification
from customer_backend.notifications.rendering import RenderedEmail, render
from customer_backend.settings import Settings
from servicekit.db import SessionFactory, session_scope
from timekeeping import Clock

log = structlog.get_logger(__name__)

SMTP_TIMEOUT_SECONDS = 15.0
FIRST_RETRY_DELAY = timedelta(minutes=1)
LONGEST_RETRY_DELAY = timedelta(hours=1)
MAX_ERROR_LENGTH = 2_000


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one notification."""

    notification_id: str
    event: str
    is_sent: bool
    recipients: tuple[str, ...] = ()
    error: str | None = None


def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 1, 2, 4, ... minutes, at most an hour."""
    delay: timedelta = FIRST_RETRY_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, LONGEST_RETRY_DELAY)


def build_message(
    *,
    email: RenderedEmail,
    sender: str,
    recipients: list[str],
    notification_id: str,
    sent_at: datetime,
) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the alternative."""
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(sent_at)
    domain = sender.rpartition("@")[2] or "wrktalk.local"
    message["Message-ID"] = f"<{notification_id}@{domain}>"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def deliver(settings: Settings, message: EmailMessage, recipients: list[str]) -> None:
    """Hand ``message`` to the SMTP server of ``settings`` (blocking; run in a thread)."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        refused = smtp.send_message(message, to_addrs=recipients)
    if refused:
        log.warning("notification.send.partly_refused", refused=sorted(refused))


async def send_next_notification(
    session: AsyncSession, *, clock: Clock, settings: Settings
) -> SendOutcome | None:
    """Send the oldest due notification, or return None when none is due.

    Recipients are the admins active now; the row records them once sent. With no active admin
    the row is closed as sent to nobody (logged), so it does not wait for ever.
    """
    now = clock.now()
    notification = await _next_due(session, now=now)
    if notification is None:
        return None
    notification_id = str(notification.id)
    recipients = await active_admin_emails(session)
    if notification.addressed_to is not None:
        recipients = [email for email in recipients if email in notification.addressed_to]
    notification.attempts += 1
    if not recipients:
        notification.last_error = "no active admin to send to"
        await _mark_sent(session, notification, recipients=[], now=now)
        log.warning("notification.send.no_recipients", notification_id=notification_id)
        return SendOutcome(notification_id, notification.event, is_sent=True)
    try:
        email = render(
            notification.event,
            {**notification.context, "organization_name": settings.organization_name},
        )
        message = build_message(
            email=email,
            sender=settings.smtp_from,
            recipients=recipients,
            notification_id=notification_id,
            sent_at=now,
        )
        await asyncio.to_thread(deliver, settings, message, recipients)
    except (OSError, smtplib.SMTPException, TemplateError, ValueError) as exc:
        # OSError covers refused connections and timeouts; TemplateError and ValueError a row
        # that cannot be rendered (a template that changed since it was queued).
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        await _postpone(session, notification, error=error, now=now)
        metrics.EMAILS.labels("failed").inc()
        return SendOutcome(notification_id, notification.event, is_sent=False, error=error)
    notification.last_error = None
    await _mark_sent(session, notification, recipients=recipients, now=now)
    metrics.EMAILS.labels("sent").inc()
    log.info(
        "notification.send.succeeded",
        notification_id=notification_id,
        email_event=notification.event,
        recipient_count=len(recipients),
    )
    return SendOutcome(notification_id, notification.event, True, tuple(recipients))


async def _next_due(session: AsyncSession, *, now: datetime) -> Notification | None:
    """The oldest unsent notification whose time has come, locked (``SKIP LOCKED``)."""
    result = await session.exec(
        select(Notification)
        .where(
            col(Notification.sent_at).is_(None),
            or_(
                col(Notification.next_attempt_at).is_(None),
                col(Notification.next_attempt_at) <= now,
            ),
        )
        .order_by(col(Notification.created_at), col(Notification.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return result.first()


async def _mark_sent(
    session: AsyncSession, notification: Notification, *, recipients: list[str], now: datetime
) -> None:
    notification.sent_at = now
    notification.recipients = recipients
    erased = email_event(notification.event).erased_once_sent
    if erased:
        notification.context = {
            key: value for key, value in notification.context.items() if key not in erased
        }
    session.add(notification)
    await session.flush()


async def _postpone(
    session: AsyncSession, notification: Notification, *, error: str, now: datetime
) -> None:
    """Sending failed: try again after the backoff of the row's attempts."""
    notification.last_error = error
    notification.next_attempt_at = now + retry_delay(notification.attempts)
    session.add(notification)
    await session.flush()
    log.warning(
        "notification.send.failed",
        notification_id=str(notification.id),
        email_event=notification.event,
        attempts=notification.attempts,
        next_attempt_at=notification.next_attempt_at.isoformat(),
        error=error,
    )


async def send_due_notifications(
    session_factory: SessionFactory, *, clock: Clock, settings: Settings, limit: int = 100
) -> list[SendOutcome]:
    """Send up to ``limit`` due notifications, each in a transaction of its own."""
    outcomes: list[SendOutcome] = []
    while len(outcomes) < limit:
        async with session_scope(session_factory) as session:
            outcome = await send_next_notification(session, clock=clock, settings=settings)
        if outcome is None:
            break
        outcomes.append(outcome)
    return outcomes
