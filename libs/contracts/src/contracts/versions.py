"""Semantic versions (https://semver.org, 2.0.0) that validate, serialise and compare in pydantic.

A version is ``MAJOR.MINOR.PATCH`` with an optional ``-prerelease`` and ``+build``. One leading
``v`` or ``V`` is accepted on input and dropped, so ``"v2.3.0"`` and ``"2.3.0"`` are the same
version and both are written back as ``"2.3.0"``. Everything else follows the specification
strictly: no leading zeros in numbers, no empty identifiers, ASCII only, no surrounding spaces.

Versions compare by semantic-version precedence: ``2.10.0 > 2.9.0``, a pre-release ranks below its
release (``2.3.0-rc.1 < 2.3.0``), and build metadata is ignored, so ``2.3.0+a == 2.3.0+b``.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

__all__ = [
    "MAX_VERSION_LENGTH",
    "VERSION_PATTERN",
    "InvalidVersionError",
    "Version",
    "parse_version",
    "parse_version_text",
]

MAX_VERSION_LENGTH: Final = 100
"""Longest accepted version text, prefix included; every column holding a version is declared
with this length, so a version the contract accepts can always be stored."""

VERSION_PATTERN: Final = (
    r"^[vV]?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
"""The accepted grammar as a regular expression, published in the JSON Schema."""

_IDENTIFIER_CHARACTERS: Final = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
)
_NUMBER_NAMES: Final = ("major", "minor", "patch")


class InvalidVersionError(ValueError):
    """Raised when a text is not a semantic version; ``reason`` says what is wrong with it."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid semantic version {text!r}: {reason}")
        self.text = text
        self.reason = reason


def _is_ascii_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parse_number(text: str, name: str, original: str) -> int:
    if not text:
        raise InvalidVersionError(original, f"the {name} number is empty")
    if not _is_ascii_number(text):
        raise InvalidVersionError(original, f"the {name} number {text!r} is not a number")
    if len(text) > 1 and text[0] == "0":
        raise InvalidVersionError(original, f"the {name} number {text!r} has a leading zero")
    return int(text)


def _parse_identifiers(text: str, name: str, original: str) -> tuple[str, ...]:
    identifiers = tuple(text.split("."))
    for identifier in identifiers:
        if not identifier:
            raise InvalidVersionError(original, f"the {name} has an empty identifier")
        if not set(identifier) <= _IDENTIFIER_CHARACTERS:
            raise InvalidVersionError(
                original,
                f"the {name} identifier {identifier!r} may only hold ASCII letters, digits and '-'",
            )
        if (
            name == "pre-release"
            and _is_ascii_number(identifier)
            and len(identifier) > 1
            and identifier[0] == "0"
        ):
            raise InvalidVersionError(
                original, f"the numeric pre-release identifier {identifier!r} has a leading zero"
            )
    return identifiers


def _precedence_of_identifier(identifier: str) -> tuple[int, int, str]:
    # Numeric identifiers rank below alphanumeric ones and compare as numbers (semver 11.4).
    if _is_ascii_number(identifier):
        return (0, int(identifier), "")
    return (1, 0, identifier)


class Version:
    """An immutable semantic version that orders by semver precedence.

    Build one with :func:`parse_version` (or :meth:`Version.parse`) from text, or from its parts.
    ``str(version)`` is the canonical text (no ``v`` prefix). A version also compares with a
    string, which is parsed first: ``Version.parse("2.3.0") == "v2.3.0"`` is true. Equality
    ignores build metadata, as precedence does.
    """

    __slots__ = ("_build", "_key", "_major", "_minor", "_patch", "_prerelease")

    _major: int
    _minor: int
    _patch: int
    _prerelease: tuple[str, ...]
    _build: tuple[str, ...]
    _key: tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]

    def __init__(
        self,
        major: int,
        minor: int,
        patch: int,
        prerelease: tuple[str, ...] = (),
        build: tuple[str, ...] = (),
    ) -> None:
        """Build a version from its parts; the parts are validated like parsed text."""
        for name, number in zip(_NUMBER_NAMES, (major, minor, patch), strict=True):
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise InvalidVersionError(
                    f"{major}.{minor}.{patch}", f"the {name} number must be an integer >= 0"
                )
        text = f"{major}.{minor}.{patch}"
        prerelease = tuple(prerelease)
        build = tuple(build)
        if prerelease:
            text += "-" + ".".join(prerelease)
            _parse_identifiers(".".join(prerelease), "pre-release", text)
        if build:
            text += "+" + ".".join(build)
            _parse_identifiers(".".join(build), "build metadata", text)
        if len(text) > MAX_VERSION_LENGTH:
            raise InvalidVersionError(text, f"it is longer than {MAX_VERSION_LENGTH} characters")
        object.__setattr__(self, "_major", major)
        object.__setattr__(self, "_minor", minor)
        object.__setattr__(self, "_patch", patch)
        object.__setattr__(self, "_prerelease", prerelease)
        object.__setattr__(self, "_build", build)
        # A release ranks above every pre-release of the same MAJOR.MINOR.PATCH (semver 11.3).
        key = (
            major,
            minor,
            patch,
            0 if prerelease else 1,
            tuple(_precedence_of_identifier(part) for part in prerelease),
        )
        object.__setattr__(self, "_key", key)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``text`` into a version; raise :class:`InvalidVersionError` saying why not."""
        if not isinstance(text, str):
            raise TypeError(f"a version is parsed from a string, not {type(text).__name__}")
        if not text:
            raise InvalidVersionError(text, "it is empty")
        if len(text) > MAX_VERSION_LENGTH:
            raise InvalidVersionError(
                text[:40] + "...", f"it is longer than {MAX_VERSION_LENGTH} characters"
            )
        if text != text.strip():
            raise InvalidVersionError(text, "it has leading or trailing whitespace")
        body = text[1:] if text[0] in "vV" else text
        body, has_build, build_text = body.partition("+")
        build = _parse_identifiers(build_text, "build metadata", text) if has_build else ()
        core, has_prerelease, prerelease_text = body.partition("-")
        prerelease = (
            _parse_identifiers(prerelease_text, "pre-release", text) if has_prerelease else ()
        )
        numbers = core.split(".")
        if len(numbers) != 3:
            raise InvalidVersionError(
                text, "expected MAJOR.MINOR.PATCH, three numbers separated by dots, as in 2.3.0"
            )
        major, minor, patch = (
            _parse_number(number, name, text)
            for number, name in zip(numbers, _NUMBER_NAMES, strict=True)
        )
        return cls(major, minor, patch, prerelease, build)

    @property
    def major(self) -> int:
        """The major number."""
        return self._major

    @property
    def minor(self) -> int:
        """The minor number."""
        return self._minor

    @property
    def patch(self) -> int:
        """The patch number."""
        return self._patch

    @property
    def prerelease(self) -> tuple[str, ...]:
        """The dot-separated pre-release identifiers, empty for a release."""
        return self._prerelease

    @property
    def build(self) -> tuple[str, ...]:
        """The dot-separated build metadata identifiers; they take no part in comparisons."""
        return self._build

    @property
    def is_prerelease(self) -> bool:
        """Whether this is a pre-release such as ``2.3.0-rc.1``."""
        return bool(self._prerelease)

    def __str__(self) -> str:
        text = f"{self._major}.{self._minor}.{self._patch}"
        if self._prerelease:
            text += "-" + ".".join(self._prerelease)
        if self._build:
            text += "+" + ".".join(self._build)
        return text

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Version is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Version is immutable")

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (parse_version, (str(self),))

    def __hash__(self) -> int:
        return hash(self._key)

    @staticmethod
    def _coerce(other: object) -> Version | None:
        if isinstance(other, Version):
            return other
        if isinstance(other, str):
            return Version.parse(other)
        return None

    def __eq__(self, other: object) -> bool:
        try:
            version = self._coerce(other)
        except InvalidVersionError:
            return False
        if version is None:
            return NotImplemented
        return self._key == version._key

    def __lt__(self, other: object) -> bool:
        version = self._coerce(other)
        if version is None:
            return NotImplemented
        return self._key < version._key

    def __le__(self, other: object) -> bool:
        version = self._coerce(other)
        if version is None:
            return NotImplemented
        return self._key <= version._key

    def __gt__(self, other: object) -> bool:
        version = self._coerce(other)
        if version is None:
            return NotImplemented
        return self._key > version._key

    def __ge__(self, other: object) -> bool:
        version = self._coerce(other)
        if version is None:
            return NotImplemented
        return self._key >= version._key

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate from a string (or a ``Version``); serialise to the canonical string in JSON."""
        return core_schema.no_info_plain_validator_function(
            _validate_version,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, when_used="json", return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Describe a version as a string with the semantic-version pattern."""
        return {
            "type": "string",
            "format": "semver",
            "pattern": VERSION_PATTERN,
            "maxLength": MAX_VERSION_LENGTH,
            "examples": ["2.3.0"],
        }


def _validate_version(value: object) -> Version:
    if isinstance(value, Version):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "semver_type", "Input should be a semantic version string such as '2.3.0'"
        )
    try:
        return Version.parse(value)
    except InvalidVersionError as error:
        raise PydanticCustomError(
            "semver_parsing",
            "Input should be a semantic version MAJOR.MINOR.PATCH[-prerelease][+build]: {reason}",
            {"reason": error.reason},
        ) from None


def parse_version(text: str) -> Version:
    """Parse ``text`` as a semantic version; raise :class:`InvalidVersionError` saying why not.

    >>> parse_version("v2.10.0") > parse_version("2.9.0")
    True
    """
    return Version.parse(text)


def parse_version_text(text: str) -> Version:
    """Parse a version a person typed or a form field or URL path carried.

    Surrounding whitespace is dropped first (a copied version often brings a space or a
    newline along); everything else is as strict as :func:`parse_version`, and an invalid
    text raises :class:`InvalidVersionError` saying why.

    >>> str(parse_version_text(" v2.3.0\\n"))
    '2.3.0'
    """
    return Version.parse(text.strip())
