"""The one error body every tier answers with: `{"error", "detail", "field"}`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from contracts.base import ContractModel

__all__ = ["ErrorCode", "ErrorResponse", "field_from_location"]

# FastAPI prefixes a request validation error's location with where the value came from.
_REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})
# pydantic prefixes the message of a ValueError raised by a validator with this.
_VALUE_ERROR_PREFIX = "Value error, "


class ErrorCode(StrEnum):
    """Machine-readable `error` codes; a client must also accept codes it does not know."""

    INVALID_INPUT = "invalid_input"
    """422: the request is malformed or a value is invalid; `field` names it."""
    UNAUTHORIZED = "unauthorized"
    """401: credentials are missing or wrong."""
    FORBIDDEN = "forbidden"
    """403: the credentials do not allow this (another organization, an expired license)."""
    NOT_FOUND = "not_found"
    """404: no such resource."""
    CONFLICT = "conflict"
    """409: the current state forbids it (a deployment in progress, a published version)."""
    GONE = "gone"
    """410: the resource existed and was removed (an artifact past retention)."""
    PAYLOAD_TOO_LARGE = "payload_too_large"
    """413: the upload is larger than allowed."""
    INTERNAL = "internal"
    """500: an unexpected failure; `detail` says nothing about internals."""


class ErrorResponse(ContractModel):
    """Body of every 4xx and 5xx answer."""

    error: str
    """A machine-readable code such as `not_found` or `conflict`."""
    detail: str
    """One sentence for humans."""
    field: str | None = None
    """The camelCase path of the offending field (`release.version`,
    `newNonEssentialEnvs.0.key`), or null."""

    @classmethod
    def from_validation_errors(cls, errors: Sequence[Mapping[str, Any]]) -> ErrorResponse:
        """Describe pydantic's (or FastAPI's) validation `errors()` as an `invalid_input`.

        The first error gives `field` and `detail`; the others are counted in `detail`.
        """
        if not errors:
            return cls(error=ErrorCode.INVALID_INPUT, detail="The request is invalid.")
        first = errors[0]
        field = field_from_location(first.get("loc", ()))
        message = str(first.get("msg", "invalid value")).removeprefix(_VALUE_ERROR_PREFIX)
        detail = f"{field}: {message}" if field else message
        if len(errors) > 1:
            others = len(errors) - 1
            detail += f" (and {others} more error{'s' if others > 1 else ''})"
        return cls(error=ErrorCode.INVALID_INPUT, detail=detail, field=field)


def field_from_location(location: Sequence[int | str]) -> str | None:
    """Join a validation error location into a dotted field path, or None for the whole body.

    A leading `body`, `query`, `path`, `header` or `cookie` is dropped:
    `("body", "imageTags", "agent")` becomes `"imageTags.agent"`.
    """
    parts = [str(part) for part in location]
    if parts and parts[0] in _REQUEST_PARTS:
        parts = parts[1:]
    return ".".join(parts) or None
