"""Injectable clocks.

Every deadline in the system (the 24-hour forced-update window, reminders, task timeouts,
webhook timestamp tolerance) reads time through a :class:`Clock`, so tests move time
forward instead of sleeping. :func:`backoff_delay` is the one exponential backoff of the
retry loops.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from timekeeping.backoff import backoff_delay

__all__ = ["Clock", "ManualClock", "SystemClock", "backoff_delay"]


@runtime_checkable
class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (default: the current UTC time, truncated to the second)."""
        initial = start or datetime.now(UTC).replace(microsecond=0)
        if initial.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = initial.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the clock's current time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward by ``delta`` (a timedelta or seconds) and return the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (timezone-aware)."""
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs timezone-aware times")
        with self._lock:
            self._now = moment.astimezone(UTC)
