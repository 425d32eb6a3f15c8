from datetime import UTC, datetime, timedelta

import pytest

from consolekit.templating import format_duration, format_iso, format_size, format_utc
from consolekit.timezones import LocalTimeInvalid, local_time_to_utc, utc_to_local_input


def test_local_time_is_read_in_the_browsers_zone() -> None:
    moment = local_time_to_utc("2026-06-01T14:30", "Europe/Berlin")
    assert moment == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert utc_to_local_input(moment, "Asia/Kolkata") == "2026-06-01T18:00"
    assert local_time_to_utc("2026-06-01T14:30", "") == datetime(2026, 6, 1, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(("value", "zone"), [("soon", "UTC"), ("2026-06-01T10:00", "Mars/Base")])
def test_unreadable_time_or_zone_is_a_sentence(value: str, zone: str) -> None:
    with pytest.raises(LocalTimeInvalid) as raised:
        local_time_to_utc(value, zone)
    assert str(raised.value).endswith(".")


def test_formats_for_people() -> None:
    moment = datetime(2026, 6, 1, 12, 5, 9, tzinfo=UTC)
    assert format_utc(moment) == "2026-06-01 12:05 UTC"
    assert format_iso(moment) == "2026-06-01T12:05:09Z"
    assert format_utc(None) == "—"
    assert format_size(512) == "512 B"
    assert format_size(1536) == "1.5 KB"
    assert format_size(3 * 1024**3) == "3.0 GB"
    assert format_duration(45) == "45 s"
    assert format_duration(timedelta(minutes=3, seconds=20)) == "3 min 20 s"
    assert format_duration(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert format_duration(timedelta(days=1, hours=3)) == "1 d 3 h"
