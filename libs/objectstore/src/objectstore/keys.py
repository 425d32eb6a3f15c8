"""Key and prefix rules shared by every store.

Both backends accept the same keys, so a key that works against the filesystem store of the
local stack also works against S3 and cannot climb out of a filesystem root: keys are
``/``-separated, relative, and have no empty, ``.`` or ``..`` segments and no NUL byte.
"""

from __future__ import annotations

from objectstore.errors import InvalidKey

MAX_KEY_BYTES = 1024


def validate_key(key: str) -> list[str]:
    """Check ``key`` and return its ``/``-separated segments; raise :class:`InvalidKey`."""
    if not key:
        raise InvalidKey(key, "empty")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKey(key, f"longer than {MAX_KEY_BYTES} bytes")
    if "\x00" in key:
        raise InvalidKey(key, "contains a NUL byte")
    if key.startswith("/"):
        raise InvalidKey(key, "absolute")
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidKey(key, "empty, '.' or '..' segment")
    return segments


def validate_prefix(prefix: str) -> list[str]:
    """Check a listing prefix and return its complete directory-like segments.

    A prefix is a plain string prefix of keys, as in S3: ``"releases/ap"`` matches
    ``"releases/app/1.0.0.tgz"``. Every segment before the last ``/`` must be a valid key
    segment; the text after it is a partial segment and may be anything but a NUL byte.
    """
    if "\x00" in prefix:
        raise InvalidKey(prefix, "contains a NUL byte")
    if prefix.startswith("/"):
        raise InvalidKey(prefix, "absolute")
    directory, _, _ = prefix.rpartition("/")
    if not directory:
        return []
    return validate_key(directory)
