"""Which keys a retention sweep selects, with explicit times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from objectstore import ObjectInfo, newest_first, select_expired

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def info(key: str, minutes_ago: int) -> ObjectInfo:
    return ObjectInfo(key=key, size=1, last_modified=NOON - timedelta(minutes=minutes_ago))


def test_newer_objects_win_over_larger_keys() -> None:
    objects = [info("z-old", 10), info("a-new", 1), info("m-middle", 5)]

    assert [item.key for item in newest_first(objects)] == ["a-new", "m-middle", "z-old"]


def test_equal_times_are_ordered_by_key_descending() -> None:
    objects = [info("b", 0), info("c", 0), info("a", 0)]

    assert [item.key for item in newest_first(objects)] == ["c", "b", "a"]


def test_expired_keys_come_oldest_first() -> None:
    objects = [info(f"v{number}", minutes_ago=number) for number in range(6)]

    assert select_expired(objects, 3) == ["v5", "v4", "v3"]


def test_protected_old_keys_survive_without_displacing_newer_ones() -> None:
    objects = [info(f"v{number}", minutes_ago=number) for number in range(6)]

    assert select_expired(objects, 3, protect={"v5"}) == ["v4", "v3"]


def test_protected_recent_keys_count_towards_the_kept_number() -> None:
    objects = [info(f"v{number}", minutes_ago=number) for number in range(6)]

    assert select_expired(objects, 3, protect={"v0"}) == ["v5", "v4", "v3"]


def test_keeping_none_expires_every_unprotected_object() -> None:
    objects = [info("a", 1), info("b", 2)]

    assert select_expired(objects, 0, protect={"a"}) == ["b"]


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="keep"):
        select_expired([], -1)
