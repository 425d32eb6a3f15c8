"""Reading tar archives that come from outside without trusting them.

One implementation of the rules for GCC's upload check and the agent's bundle extraction, so
GCC never stores an archive that an agent would refuse:

- every header is bounded before it is read (:mod:`archivesafety.headers`);
- every member keeps the rules on names, links, types and sizes (:mod:`archivesafety.rules`).

Open with :func:`open_archive`, then take the members from :func:`safe_members`.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal

from archivesafety.errors import ArchiveRefused, ArchiveUnreadable
from archivesafety.headers import (
    MAX_EXTENDED_HEADER_BYTES,
    MAX_EXTENDED_HEADERS_IN_ROW,
    MAX_GLOBAL_HEADER_BYTES,
    BoundedTarFile,
)
from archivesafety.rules import (
    MAX_BYTES,
    MAX_ENTRIES,
    ArchiveLimits,
    MemberRules,
    SafeMember,
    relative_name,
)

__all__ = [
    "MAX_BYTES",
    "MAX_ENTRIES",
    "MAX_EXTENDED_HEADERS_IN_ROW",
    "MAX_EXTENDED_HEADER_BYTES",
    "MAX_GLOBAL_HEADER_BYTES",
    "READ_ERRORS",
    "ArchiveLimits",
    "ArchiveRefused",
    "ArchiveUnreadable",
    "MemberRules",
    "SafeMember",
    "open_archive",
    "relative_name",
    "safe_members",
]

READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)
"""What reading a damaged archive raises, from tarfile or the decompressor under it."""

_ReadMode = Literal["r:gz", "r:bz2", "r:xz", "r:"]
_COMPRESSIONS: tuple[tuple[bytes, _ReadMode], ...] = (
    (b"\x1f\x8b", "r:gz"),
    (b"BZh", "r:bz2"),
    (b"\xfd7zXZ\x00", "r:xz"),
)


def _read_mode(source: Path | BinaryIO) -> _ReadMode:
    # Chosen from the magic bytes rather than tried in turn ("r:*"), so a damaged archive is
    # refused with the one reason that applies to it.
    if isinstance(source, Path):
        with source.open("rb") as handle:
            magic = handle.read(6)
    else:
        start = source.tell()
        magic = source.read(6)
        source.seek(start)
    return next((mode for prefix, mode in _COMPRESSIONS if magic.startswith(prefix)), "r:")


@contextmanager
def open_archive(path: Path | BinaryIO) -> Iterator[tarfile.TarFile]:
    """Open the tar archive at ``path``, or in a seekable binary file such as an upload
    spooled to disk (uncompressed, or compressed in a way ``tarfile`` knows), for reading,
    with every header bounded.

    Raises :class:`ArchiveUnreadable` if it is not a readable tar archive, and
    :class:`ArchiveRefused` if its first header breaks a bound. The archive is random-access,
    so a member can be read after the scan.
    """
    try:
        # Not "r|gz": Python 3.11's stream reader mis-reads the gzip FEXTRA field that
        # `helm package` writes. gzip.GzipFile, which "r:gz" uses, reads it correctly.
        if isinstance(path, Path):
            archive = BoundedTarFile.open(path, mode=_read_mode(path))
        else:
            archive = BoundedTarFile.open(fileobj=path, mode=_read_mode(path))
    except READ_ERRORS as exc:
        raise ArchiveUnreadable(str(exc)) from None
    with archive:
        yield archive


def safe_members(
    archive: tarfile.TarFile, limits: ArchiveLimits | None = None
) -> Iterator[SafeMember]:
    """Yield the members of ``archive`` in order, each checked against the rules, and raise
    :class:`ArchiveRefused` naming the first member that breaks one.

    Symbolic links are judged once every member is known, so the last step may still raise:
    take every member before acting on any. The top directory itself (``.``) is not yielded.
    """
    rules = MemberRules(limits or ArchiveLimits())
    try:
        for info in archive:
            member = rules.admit(info)
            # Applied to the member's fields already; kept, they would cost up to a header's
            # size for every member held.
            info.pax_headers = {}
            if member is not None:
                yield member
    except READ_ERRORS as exc:
        raise ArchiveUnreadable(str(exc)) from None
    rules.finish()
