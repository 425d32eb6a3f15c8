"""Render an admin email (subject, plain text, HTML) from its jinja2 templates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from customer_backend.notifications.events import (
    check_event_context,
    email_event,
    normalize_context,
)


class RenderedEmail(NamedTuple):
    """An email ready to send: ``subject, text, html = render(...)``."""

    subject: str
    text: str
    html: str


def format_utc(value: datetime | str | None, missing: str = "unknown") -> str:
    """``2026-06-01 12:00 UTC`` for a datetime or an ISO 8601 string; ``missing`` for None."""
    if value is None or value == "":
        return missing
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    """The jinja2 environment of the email templates (built once; templates are cached)."""
    environment = Environment(
        loader=PackageLoader("customer_backend.notifications", "templates"),
        undefined=StrictUndefined,
        # HTML bodies are escaped; plain text and subjects are not HTML.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["utc"] = format_utc
    return environment


def render(event: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render ``event``'s subject, text and HTML from ``context``.

    ``event`` may be an alias (``events.EVENT_ALIASES``) and keys camelCase. Optional context
    keys that are absent read as None; any other missing name is an error (StrictUndefined).
    An ``organization_name`` in the context prefixes the subject.
    """
    context = normalize_context(context)
    check_event_context(event, context)
    known = email_event(event)
    values: dict[str, Any] = dict.fromkeys(known.optional)
    values["organization_name"] = None
    values.update(context)
    environment = template_environment()
    text_template = environment.get_template(f"{known.name}.txt.j2")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(values)))
    # One header line: collapse whitespace, so nothing in the context can add a header.
    subject = " ".join(subject.split())
    if values["organization_name"]:
        subject = f"[WrkTalk {values['organization_name']}] {subject}"
    text = text_template.render(values).strip() + "\n"
    html = environment.get_template(f"{known.name}.html.j2").render({**values, "subject": subject})
    return RenderedEmail(subject, text, html)
