"""The errors every object store raises."""

from __future__ import annotations


class ObjectStoreError(Exception):
    """Base class of every error raised by an object store."""


class ObjectNotFound(ObjectStoreError):
    """The requested key does not exist."""

    def __init__(self, key: str) -> None:
        """Record the missing ``key``."""
        super().__init__(f"object {key!r} does not exist")
        self.key = key


class InvalidKey(ObjectStoreError, ValueError):
    """A key or prefix that no store accepts (empty, absolute, or with ``.``/``..`` segments)."""

    def __init__(self, key: str, reason: str) -> None:
        """Record the refused ``key`` and why it was refused."""
        super().__init__(f"invalid object key {key!r}: {reason}")
        self.key = key
        self.reason = reason
