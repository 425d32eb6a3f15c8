"""What object stores return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object.

    ``last_modified`` is timezone-aware (UTC). ``sha256`` (lowercase hex) is known only for the
    result of ``put_file``/``put_stream``, which compute it while the bytes go by; ``head`` and
    ``list`` leave it ``None`` because neither backend keeps it. ``etag`` and ``content_type``
    are what the backend reports, when it reports them.
    """

    key: str
    size: int
    last_modified: datetime
    sha256: str | None = None
    etag: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What ``get_to_file`` wrote: the SHA256 (lowercase hex) and the size of the bytes."""

    sha256: str
    size: int
