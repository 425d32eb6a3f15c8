import random
from datetime import UTC, datetime, timedelta

import pytest

from timekeeping import Clock, ManualClock, SystemClock, backoff_delay


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


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    delays = [backoff_delay(doublings, base=5.0, cap=60.0) for doublings in range(6)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_backoff_without_a_cap_keeps_doubling_and_survives_many_failures() -> None:
    assert backoff_delay(3, base=0.5) == 4.0
    assert backoff_delay(10_000, base=1.0, cap=300.0) == 300.0


def test_backoff_with_jitter_waits_between_half_and_all_of_the_delay() -> None:
    rng = random.Random(7)
    samples = [backoff_delay(2, base=10.0, cap=300.0, rng=rng) for _ in range(200)]
    assert all(20.0 <= sample <= 40.0 for sample in samples)
    assert len({round(sample, 3) for sample in samples}) > 150
