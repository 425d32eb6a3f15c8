"""Reading a receiver's Retry-After: seconds or a date, capped at an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gcc.delivery.sender import MAX_RETRY_AFTER_SECONDS, origin, retry_after_seconds

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("999999", MAX_RETRY_AFTER_SECONDS),
        (format_datetime(NOW + timedelta(minutes=10), usegmt=True), 600.0),
        (format_datetime(NOW - timedelta(minutes=10), usegmt=True), 0.0),
        (format_datetime(NOW + timedelta(days=2), usegmt=True), MAX_RETRY_AFTER_SECONDS),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def test_the_per_receiver_cap_counts_by_scheme_host_and_port() -> None:
    assert origin("https://a.example:8443/hook?x=1") == "https://a.example:8443"
    assert origin("https://a.example/other") == "https://a.example"
    assert origin("http://a.example/hook") != origin("https://a.example/hook")
