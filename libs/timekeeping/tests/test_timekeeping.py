from datetime import UTC, datetime, timedelta

import pytest

from timekeeping import Clock, ManualClock, SystemClock


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_manual_clock_moves_only_when_advanced() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.advance(timedelta(hours=24)) == start + timedelta(hours=24)
    assert clock.advance(30) == start + timedelta(hours=24, seconds=30)
    assert isinstance(clock, Clock)


def test_manual_clock_refuses_naive_and_backwards() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))
    clock = ManualClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
