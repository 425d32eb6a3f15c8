"""Email from GCC: messages rendered from jinja2 templates, sent over SMTP."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gcc.settings import Settings

log = structlog.get_logger(__name__)

SUBJECT_PREFIX = "Subject:"

# Plain-text mail: nothing to escape; StrictUndefined turns a missing value into an error
# instead of a silently empty line.
_templates = Environment(
    loader=PackageLoader("gcc.notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class OutgoingEmail:
    """One plain-text message to send."""

    recipients: tuple[str, ...]
    subject: str
    body: str


def render_email(
    template_name: str, context: Mapping[str, Any], recipients: Sequence[str]
) -> OutgoingEmail:
    """Render a template whose first line is ``Subject: ...`` and the rest the body."""
    text = _templates.get_template(template_name).render(**context)
    first_line, _, body = text.partition("\n")
    if not first_line.startswith(SUBJECT_PREFIX):
        raise ValueError(f"the template {template_name} must start with a Subject line")
    return OutgoingEmail(
        recipients=tuple(recipients),
        subject=first_line.removeprefix(SUBJECT_PREFIX).strip(),
        body=body.lstrip("\n"),
    )


class SmtpMailer:
    """Sends messages through the SMTP server of the settings (blocking: call it in a thread)."""

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        """Read the server, credentials and sender from ``settings``."""
        self._settings = settings
        self._timeout = timeout

    def send_all(self, messages: Sequence[OutgoingEmail]) -> int:
        """Send ``messages`` in order over one connection; the number handled before the first
        failure (0 when the server cannot be reached). A message whose every recipient is
        refused counts as handled. Failures are logged, not raised, so the caller can keep
        what was sent and retry the rest later."""
        if not messages:
            return 0
        settings = self._settings
        sent = 0
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=self._timeout
            ) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username and settings.smtp_password is not None:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                for message in messages:
                    try:
                        smtp.send_message(self._build(message))
                    except smtplib.SMTPRecipientsRefused as exc:
                        # every address refused: retrying cannot help, and keeping it would
                        # hold back every message after it
                        log.error(
                            "notifications.email.refused",
                            recipients=list(message.recipients),
                            error=str(exc.recipients),
                        )
                    sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            log.warning(
                "notifications.email.failed",
                host=settings.smtp_host,
                port=settings.smtp_port,
                sent=sent,
                remaining=len(messages) - sent,
                error=f"{type(exc).__name__}: {exc}",
            )
        return sent

    def _build(self, outgoing: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = ", ".join(outgoing.recipients)
        message["Subject"] = outgoing.subject
        message.set_content(outgoing.body)
        return message
