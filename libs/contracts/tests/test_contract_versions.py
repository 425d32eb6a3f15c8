"""Semantic versions: parsing, canonical text, precedence and pydantic integration."""

from __future__ import annotations

import copy
import itertools
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts import (
    MAX_VERSION_LENGTH,
    InvalidVersionError,
    Version,
    parse_version,
    parse_version_text,
)


class _Carrier(BaseModel):
    version: Version
    minimum: Version | None = None


def test_parse_reads_every_part() -> None:
    version = parse_version("2.3.4-rc.1+build.7")
    assert (version.major, version.minor, version.patch) == (2, 3, 4)
    assert version.prerelease == ("rc", "1")
    assert version.build == ("build", "7")
    assert version.is_prerelease
    assert str(version) == "2.3.4-rc.1+build.7"


@pytest.mark.parametrize("text", ["v2.3.0", "V2.3.0"])
def test_leading_v_is_accepted_and_dropped(text: str) -> None:
    assert str(parse_version(text)) == "2.3.0"
    assert parse_version(text) == parse_version("2.3.0")


def test_ten_is_greater_than_nine_in_every_position() -> None:
    assert parse_version("2.10.0") > parse_version("2.9.0")
    assert parse_version("10.0.0") > parse_version("9.99.99")
    assert parse_version("1.0.10") > parse_version("1.0.9")


def test_semver_specification_precedence_example_is_ordered() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    versions = [parse_version(text) for text in ordered]
    backwards = versions[::-1]
    assert sorted(backwards) == versions
    for lower, higher in itertools.pairwise(versions):
        assert lower < higher
        assert lower <= higher
        assert higher > lower
        assert higher >= lower
        assert lower != higher


def test_prerelease_is_lower_than_its_release() -> None:
    assert parse_version("2.3.0-rc.1") < parse_version("2.3.0")
    assert parse_version("2.3.0-rc.1") > parse_version("2.2.9")


def test_build_metadata_is_ignored_in_comparison_and_hash() -> None:
    first = parse_version("2.3.0+a")
    second = parse_version("2.3.0+b")
    assert first == second
    assert hash(first) == hash(second)
    assert not first < second
    assert str(first) != str(second)


def test_version_compares_with_strings_by_parsing_them() -> None:
    version = parse_version("2.10.0")
    assert version == "2.10.0"
    assert version == "v2.10.0"
    assert version > "2.9.0"
    assert "2.9.0" < version  # noqa: SIM300 - the reflected comparison is under test
    assert version != "not a version"
    assert version != 2


def test_ordering_against_an_invalid_string_raises() -> None:
    with pytest.raises(InvalidVersionError):
        assert parse_version("2.3.0") < "2.3"


def test_ordering_against_another_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        assert parse_version("2.3.0") < 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("2.3", "MAJOR.MINOR.PATCH"),
        ("2.3.0.1", "MAJOR.MINOR.PATCH"),
        ("02.3.0", "leading zero"),
        ("2.03.0", "leading zero"),
        ("2.3.00", "leading zero"),
        ("2.3.0-01", "leading zero"),
        ("2.3.0-", "empty identifier"),
        ("2.3.0-rc..1", "empty identifier"),
        ("2.3.0+", "empty identifier"),
        ("2.3.0-rc_1", "ASCII letters"),
        ("2.3.x", "not a number"),
        ("-1.0.0", "MAJOR.MINOR.PATCH"),
        ("2.3.0 ", "whitespace"),
        (" 2.3.0", "whitespace"),
        ("vv2.3.0", "not a number"),
        ("2.3.٣", "not a number"),
        ("1.0.0-" + "a" * MAX_VERSION_LENGTH, "longer than"),
    ],
)
def test_invalid_versions_are_rejected_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        parse_version(text)
    assert reason in caught.value.reason


def test_build_metadata_may_have_leading_zeros() -> None:
    assert str(parse_version("1.0.0+001")) == "1.0.0+001"


def test_version_from_parts_validates_them() -> None:
    assert str(Version(1, 2, 3, ("rc", "1"))) == "1.2.3-rc.1"
    with pytest.raises(InvalidVersionError):
        Version(1, -2, 3)
    with pytest.raises(InvalidVersionError):
        Version(1, 2, 3, ("",))


def test_version_is_immutable_picklable_and_copyable() -> None:
    version = parse_version("2.3.0-rc.1+b")
    with pytest.raises(AttributeError):
        version.major = 3  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(version)) == version  # noqa: S301 - our own bytes
    assert str(copy.deepcopy(version)) == "2.3.0-rc.1+b"
    assert repr(version) == "Version('2.3.0-rc.1+b')"


def test_pydantic_field_validates_and_serialises_as_the_canonical_string() -> None:
    carrier = _Carrier.model_validate_json('{"version": "v2.10.0", "minimum": null}')
    assert isinstance(carrier.version, Version)
    assert carrier.version > parse_version("2.9.0")
    assert carrier.model_dump_json() == '{"version":"2.10.0","minimum":null}'
    assert carrier.model_dump(mode="json") == {"version": "2.10.0", "minimum": None}
    assert carrier.model_dump()["version"] == parse_version("2.10.0")


def test_pydantic_field_accepts_a_version_instance() -> None:
    version = parse_version("1.2.3")
    assert _Carrier(version=version).version is version


@pytest.mark.parametrize("value", ["2.3", 230, 2.3, None, ["2", "3", "0"]])
def test_pydantic_field_names_the_invalid_version(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        _Carrier.model_validate({"version": value})
    [error] = caught.value.errors()
    assert error["loc"] == ("version",)
    assert error["type"] in {"semver_parsing", "semver_type"}
    assert "semantic version" in error["msg"]


def test_pydantic_json_schema_is_a_string_with_the_pattern() -> None:
    schema = _Carrier.model_json_schema()
    version_schema = schema["properties"]["version"]
    assert version_schema["type"] == "string"
    assert version_schema["pattern"].startswith("^[vV]?")


_numbers = st.integers(min_value=0, max_value=10_000)
_cores = st.tuples(_numbers, _numbers, _numbers)
_identifiers = st.one_of(
    st.integers(min_value=0, max_value=500).map(str),
    st.from_regex(r"[a-zA-Z-][0-9a-zA-Z-]{0,6}", fullmatch=True),
)
_prereleases = st.lists(_identifiers, min_size=0, max_size=3).map(tuple)


@given(_cores, _cores)
def test_release_order_follows_numeric_tuple_order(
    first: tuple[int, int, int], second: tuple[int, int, int]
) -> None:
    left = parse_version("{}.{}.{}".format(*first))
    right = parse_version("{}.{}.{}".format(*second))
    assert (left < right) == (first < second)
    assert (left == right) == (first == second)
    assert (left > right) == (first > second)


@given(_cores, st.lists(_identifiers, min_size=1, max_size=3).map(tuple))
def test_any_prerelease_is_below_its_release(
    core: tuple[int, int, int], prerelease: tuple[str, ...]
) -> None:
    release = Version(*core)
    assert Version(*core, prerelease) < release


@given(st.lists(st.tuples(_cores, _prereleases), min_size=1, max_size=8))
def test_sorting_is_consistent_with_pairwise_comparison_and_round_trips(
    parts: list[tuple[tuple[int, int, int], tuple[str, ...]]],
) -> None:
    versions = [Version(*core, prerelease) for core, prerelease in parts]
    ordered = sorted(versions)
    for lower, higher in itertools.pairwise(ordered):
        assert lower <= higher
        assert not higher < lower
    for version in versions:
        assert parse_version(str(version)) == version
        assert str(parse_version(str(version))) == str(version)


def test_parse_version_text_drops_surrounding_whitespace() -> None:
    assert parse_version_text(" v2.3.0\n") == Version(2, 3, 0)


def test_parse_version_text_keeps_the_grammar_strict() -> None:
    with pytest.raises(InvalidVersionError, match="three numbers"):
        parse_version_text(" 2.3 ")
