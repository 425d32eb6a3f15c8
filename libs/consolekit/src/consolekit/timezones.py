"""Times typed in a browser's time zone, read back as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class LocalTimeInvalid(ValueError):
    """A time or time zone from a form that cannot be read; the message is a sentence."""


def zone_named(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (UTC when empty)."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise LocalTimeInvalid(f"'{name}' is not a time zone this server knows.") from error


def local_time_to_utc(value: str, zone_name: str | None) -> datetime:
    """``value`` from an ``<input type="datetime-local">`` (``2026-06-01T14:30``), read in the
    IANA zone ``zone_name``, as an aware UTC datetime.

    A wall time that a daylight-saving change skips or repeats is read with ``fold=0``, the
    earlier of the two readings, as Python does.
    """
    zone = zone_named(zone_name)
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise LocalTimeInvalid("Enter a date and time, such as 2026-06-01 14:30.") from error
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def utc_to_local_input(moment: datetime, zone_name: str | None) -> str:
    """``moment`` as a value for an ``<input type="datetime-local">`` in ``zone_name``."""
    return moment.astimezone(zone_named(zone_name)).strftime("%Y-%m-%dT%H:%M")
