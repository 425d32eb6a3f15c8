"""A structlog processor that hides the values of keys that look secret."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from structlog.typing import EventDict, WrappedLogger

REDACTED = "[REDACTED]"

# Matched as substrings of the key after lower-casing and dropping "-", "_", "." and spaces,
# so "X-Agent-Secret", "api_key", "apiKey" and "GCC_CI_TOKEN" are all caught. Hiding a harmless
# value such as "token_count" is the accepted price of never printing a real one.
SECRET_KEY_MARKERS: tuple[str, ...] = (
    "secret",
    "token",
    "password",
    "passwd",
    "apikey",
    "authorization",
    "xagentsecret",
    "cookie",
    "credential",
)

_SEPARATORS = str.maketrans("", "", "-_. ")


def is_secret_key(key: object) -> bool:
    """Return whether a mapping key (str or bytes) names a value that must not be logged."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", errors="replace")
    if not isinstance(key, str):
        return False
    normalised = key.lower().translate(_SEPARATORS)
    return any(marker in normalised for marker in SECRET_KEY_MARKERS)


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with the values of secret-looking keys replaced.

    Mappings (as plain dicts), lists and tuples are copied at every depth; a tuple pair whose
    first item is a secret-looking name, as in ASGI or httpx raw headers, has its second item
    replaced. Other objects are returned as they are, and the input is never modified.
    """
    return _redact(value, set())


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: replace values of secret-looking keys with ``"[REDACTED]"``.

    Keys match case-insensitively on a substring (see ``SECRET_KEY_MARKERS``), with hyphens and
    underscores ignored, at any depth of nested dicts, lists and tuples. A new event dict is
    returned; the objects the caller logged are not modified.
    """
    return _redact_mapping(event_dict, {id(event_dict)})


def _redact(value: Any, active: set[int]) -> Any:
    if isinstance(value, Mapping):
        return _guarded(value, active, _redact_mapping)
    if isinstance(value, tuple):
        return _guarded(value, active, _redact_tuple)
    if isinstance(value, list):
        return _guarded(value, active, _redact_list)
    return value


def _guarded(value: Any, active: set[int], copy: Callable[[Any, set[int]], Any]) -> Any:
    # A container that holds itself would otherwise recurse forever.
    marker = id(value)
    if marker in active:
        return "<recursion>"
    active.add(marker)
    try:
        return copy(value, active)
    finally:
        active.discard(marker)


def _redact_mapping(mapping: Mapping[Any, Any], active: set[int]) -> dict[Any, Any]:
    return {
        key: REDACTED if is_secret_key(key) else _redact(item, active)
        for key, item in mapping.items()
    }


def _redact_list(items: list[Any], active: set[int]) -> list[Any]:
    return [_redact(item, active) for item in items]


def _redact_tuple(items: tuple[Any, ...], active: set[int]) -> tuple[Any, ...]:
    if len(items) == 2 and isinstance(items[0], str | bytes) and is_secret_key(items[0]):
        return (items[0], REDACTED)
    return tuple(_redact(item, active) for item in items)
