"""Constrained string types shared by the contract models.

Each type is a plain ``str`` in Python, checked against a pattern when a model is validated, and
published with that pattern in the JSON Schema. A value that does not match fails with the error
type ``string_format`` and a message saying what the value should be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, AwareDatetime, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

__all__ = [
    "MAX_ENV_KEY_LENGTH",
    "MAX_ORGANIZATION_NAME_LENGTH",
    "SHA256_PATTERN",
    "SPACE",
    "TRACEPARENT_LENGTH",
    "BucketKey",
    "CommitId",
    "DownloadUrl",
    "EnvKey",
    "ImageTag",
    "ImageTags",
    "NoOtherKeys",
    "OrganizationName",
    "ServiceName",
    "Sha256",
    "TextPattern",
    "Timestamp",
    "TraceParent",
]

SPACE: Final = r"\s\x1c-\x1f\x85"
r"""For a pattern's character class: every character Python's ``\s`` (``str.isspace``) takes
for whitespace, which ECMA-262's ``\s`` alone misses four separators and NEL of, so a JSON
Schema reader and this package refuse the same strings."""

SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"
"""A SHA256 digest as 64 lowercase hexadecimal characters."""

MAX_ORGANIZATION_NAME_LENGTH: Final = 63
"""Longest organization name (a DNS label); the columns holding one are declared with it."""

MAX_ENV_KEY_LENGTH: Final = 128
"""Longest environment variable name; the columns holding one are declared with it."""


@dataclass(frozen=True, slots=True)
class TextPattern:
    """``Annotated`` metadata that checks a string against ``pattern`` and a length limit.

    ``expected`` completes the error message "Input should be ...". The pattern must be written
    so that Python's :mod:`re` and ECMA-262 (JSON Schema) read it the same way.
    """

    pattern: str
    expected: str
    max_length: int

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate as a string first, then against the pattern."""
        compiled = re.compile(self.pattern)
        expected = self.expected
        max_length = self.max_length

        def check(value: str) -> str:
            if len(value) > max_length or compiled.fullmatch(value) is None:
                raise PydanticCustomError(
                    "string_format", "Input should be {expected}", {"expected": expected}
                )
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Publish the pattern and the length limit."""
        json_schema = handler(schema)
        json_schema.update(pattern=self.pattern, maxLength=self.max_length)
        return json_schema


Sha256 = Annotated[
    str,
    TextPattern(SHA256_PATTERN, "a SHA256 digest of 64 lowercase hexadecimal characters", 64),
]
"""A SHA256 digest, 64 lowercase hexadecimal characters."""

OrganizationName = Annotated[
    str,
    TextPattern(
        r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        "an organization name of 1 to 63 lowercase letters, digits or hyphens "
        "that starts and ends with a letter or digit",
        MAX_ORGANIZATION_NAME_LENGTH,
    ),
]
"""An organization's unique name, a DNS-label-like slug such as ``customer-x``."""

ServiceName = Annotated[
    str,
    TextPattern(
        r"^[a-z][A-Za-z0-9]*$",
        "a service name in lower camelCase, letters and digits only, such as 'controlTower'",
        63,
    ),
]
"""A service of the product (``backend``, ``controlTower``, ...), safe as a Helm ``--set`` key."""

ImageTag = Annotated[
    str,
    TextPattern(
        r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        "a container image tag: letters, digits, '_', '.' and '-', not starting with '.' or '-'",
        128,
    ),
]
"""A container image tag as Docker defines it, such as ``sha-abc123``."""


@dataclass(frozen=True)
class NoOtherKeys:
    """``Annotated`` metadata for a mapping whose keys are checked against a pattern: publish
    that a key matching none of its ``patternProperties`` is refused, as validation does
    (JSON Schema otherwise allows any other key)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Close the published mapping to keys outside its key pattern."""
        json_schema = handler(schema)
        if "patternProperties" in json_schema:
            json_schema["additionalProperties"] = False
        return json_schema


ImageTags = Annotated[dict[ServiceName, ImageTag], NoOtherKeys()]
"""Image tag per service, keyed by the service's name in lower camelCase (``controlTower``)."""

EnvKey = Annotated[
    str,
    TextPattern(
        r"^[A-Za-z_][A-Za-z0-9_]*$",
        "an environment variable name: letters, digits and '_', not starting with a digit",
        MAX_ENV_KEY_LENGTH,
    ),
]
"""The name of an environment variable, such as ``NEW_FEATURE``."""

BucketKey = Annotated[
    str,
    TextPattern(
        r"^(?!\.{1,2}(?:/|$))[A-Za-z0-9._+-]+(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._+-]+)*$",
        "an object key of '/'-separated segments of letters, digits, '.', '_', '+' and '-', "
        "without a leading '/', empty segments, '.' or '..'",
        1024,
    ),
]
"""The key of an object in a bucket, such as ``artifacts/helm/wrktalk-2.3.0.tgz``."""

DownloadUrl = Annotated[
    str,
    TextPattern(
        rf"^(?:https?://[^{SPACE}/?#]+(?:[/?#][^{SPACE}]*)?|file:///[^{SPACE}]*)$",
        "an http, https or file URL without whitespace",
        8192,
    ),
]
"""A URL to download from: usually a presigned S3 URL, ``file://`` for the filesystem store.

It is kept exactly as issued (no normalisation), since re-encoding would break a signature.
"""

CommitId = Annotated[
    str,
    TextPattern(
        r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$",
        "a full Git commit id of 40 (SHA-1) or 64 (SHA-256) lowercase hexadecimal characters",
        64,
    ),
]
"""A full Git commit id."""

TRACEPARENT_LENGTH: Final = 55
"""Length of a W3C ``traceparent`` of version 00, and of the columns that store one."""

TraceParent = Annotated[
    str,
    TextPattern(
        r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$",
        "a W3C traceparent: 00, a 32-digit trace id, a 16-digit span id and 2 flag digits, "
        "lowercase hexadecimal, joined by '-'",
        TRACEPARENT_LENGTH,
    ),
]
"""The W3C Trace Context of the work a message belongs to (``00-<trace>-<span>-<flags>``)."""


def _storable_instant(value: datetime) -> datetime:
    # An offset can carry an instant past year 9999 or before year 1 in UTC, which neither
    # Python nor the database drivers can represent: refused here rather than failing later.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant must lie within the years 1 to 9999 in UTC") from None
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_storable_instant)]
"""An instant with its UTC offset, such as ``2026-06-01T12:00:00Z``, that UTC can represent."""
