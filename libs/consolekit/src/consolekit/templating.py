"""Templates, filters and static files every console shares.

A tier builds its :class:`~fastapi.templating.Jinja2Templates` with :func:`console_templates`
(its own template folder first, then this library's ``consolekit/`` templates: ``base.html``,
``macros.html``, ``message.html``), mounts :func:`console_static_files` under its console's
static path, and passes a :class:`ConsoleChrome` as ``chrome`` to every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from markupsafe import Markup

STATIC_DIRECTORY = Path(__file__).parent / "static"


@dataclass(frozen=True)
class NavItem:
    """One link of the console's main navigation."""

    label: str
    url: str
    is_current: bool = False


@dataclass(frozen=True)
class ConsoleChrome:
    """What ``base.html`` draws around a page: the console's name, navigation, who is signed
    in, the static files' address and the CSRF token of the sign-out form."""

    name: str
    static_url: str
    home_url: str
    nav: Sequence[NavItem] = ()
    signed_in_as: str | None = None
    role: str | None = None
    sign_out_url: str | None = None
    csrf_token: str | None = None
    notices: Sequence[str] = field(default_factory=tuple)


def format_utc(moment: datetime | None) -> str:
    """``2026-06-01 14:30 UTC``; an em dash for no time."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_iso(moment: datetime | None) -> str:
    """ISO 8601 in UTC, for a ``<time datetime>`` attribute."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_size(size: int | None) -> str:
    """A byte count for people: ``512 B``, ``1.5 MB``."""
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(length: timedelta | float | None) -> str:
    """A duration for people: ``45 s``, ``3 min 20 s``, ``2 h 5 min``, ``1 d 3 h``."""
    if length is None:
        return "—"
    seconds = int(length.total_seconds() if isinstance(length, timedelta) else length)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes} min"
    if minutes:
        return f"{sign}{minutes} min {seconds} s"
    return f"{sign}{seconds} s"


def time_element(moment: datetime | None) -> Markup:
    """``<time datetime="…" data-local-time>2026-06-01 14:30 UTC</time>``, which the consoles'
    script shows in the reader's time zone; an em dash for no time."""
    if moment is None:
        return Markup("—")
    # Markup + str escapes the str: cheaper than Markup.format, whose formatter costs more
    # than the rest of a history row
    return (
        Markup('<time datetime="')
        + format_iso(moment)
        + Markup('" data-local-time>')
        + format_utc(moment)
        + Markup("</time>")
    )


def console_environment(directories: Sequence[Path]) -> Environment:
    """A jinja2 environment: ``directories`` first, then the library's templates; HTML
    autoescaped; the ``utc``, ``iso``, ``filesize`` and ``duration`` filters and the
    ``time_element`` function."""
    environment = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader([str(directory) for directory in directories]),
                PackageLoader("consolekit", "templates"),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["utc"] = format_utc
    environment.filters["iso"] = format_iso
    environment.filters["filesize"] = format_size
    environment.filters["duration"] = format_duration
    environment.globals["time_element"] = time_element
    return environment


def console_templates(*directories: Path) -> Jinja2Templates:
    """Templates for a console whose own templates are in ``directories``."""
    return Jinja2Templates(env=console_environment(directories))


def console_static_files() -> StaticFiles:
    """The library's static files (CSS, script, vendored front-end files), to mount."""
    return StaticFiles(directory=STATIC_DIRECTORY)
