"""Tar headers read with a bound: no extended header is read before its size is checked.

Python's ``tarfile`` reads a GNU long-name or long-link record and a PAX extended header into
memory whole, whatever size its 512-byte header block claims, so half a megabyte of gzip can
claim gigabytes of header. ``tarfile`` names ``TarInfo._proc_member`` as the hook a subclass
overrides to process members its own way; :class:`BoundedTarInfo` checks each extended header's
size there, from its header block alone, before a byte that follows it is read. ``tarfile``
still parses everything, so what is checked is exactly what ``tarfile`` goes on to use: there is
no second parser that could read the stream differently.

Sparse files are refused in the same place: a GNU sparse header chains extension blocks without
end, and a PAX 1.0 sparse map is read from the data that follows as a list of numbers without
end. Neither has a use in a chart or a bundle.
"""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from typing import Any, Final

from archivesafety.errors import ArchiveRefused

MAX_EXTENDED_HEADER_BYTES: Final = 8 * 1024
"""Largest GNU long-name or long-link record or PAX header read: room for any real path."""
MAX_EXTENDED_HEADERS_IN_ROW: Final = 4
"""Most extended headers before one member (GNU tar writes a long name and a long link; git a
PAX global header then a PAX header); each one nests a call in ``tarfile``."""
MAX_GLOBAL_HEADER_BYTES: Final = 8 * 1024
"""Largest total of PAX global headers, which ``tarfile`` keeps and copies into every later
member."""

_HOOKS: Final = ("_proc_member", "_proc_gnusparse_00", "_proc_gnusparse_01", "_proc_gnusparse_10")
_EXTENDED_KINDS: Final[Mapping[bytes, str]] = {
    tarfile.GNUTYPE_LONGNAME: "GNU long-name record",
    tarfile.GNUTYPE_LONGLINK: "GNU long-link record",
    tarfile.XHDTYPE: "PAX extended header",
    tarfile.SOLARIS_XHDTYPE: "PAX extended header",
    tarfile.XGLTYPE: "PAX global header",
}

# These bounds are only as good as the hooks they ride on: fail loudly on a Python whose
# tarfile no longer calls them, rather than read archives unbounded.
_missing = [hook for hook in _HOOKS if not callable(getattr(tarfile.TarInfo, hook, None))]
if _missing:
    raise ImportError(f"tarfile.TarInfo lacks {', '.join(_missing)}; header bounds cannot hold")


class BoundedTarFile(tarfile.TarFile):
    """A ``TarFile`` whose members are read through :class:`BoundedTarInfo`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Open as ``tarfile.TarFile`` does (which reads the first member already)."""
        self.extended_headers_in_row = 0
        self.global_header_bytes = 0
        super().__init__(*args, **kwargs)


class BoundedTarInfo(tarfile.TarInfo):
    """A member header whose extended headers are size-checked before they are read."""

    def _proc_member(self, archive: BoundedTarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveRefused("sparse file", member=self.name)
        kind = _EXTENDED_KINDS.get(self.type)
        if kind is None:
            return super()._proc_member(archive)  # type: ignore[misc,no-any-return]
        _check_extended_header(self, archive, kind)
        # tarfile reads the member an extended header belongs to by calling back in here.
        archive.extended_headers_in_row += 1
        try:
            return super()._proc_member(archive)  # type: ignore[misc,no-any-return]
        finally:
            archive.extended_headers_in_row -= 1

    def _proc_gnusparse_00(self, following: tarfile.TarInfo, pax: dict[str, str], *_: Any) -> None:
        raise ArchiveRefused("sparse file", member=pax.get("path", following.name))

    def _proc_gnusparse_01(self, following: tarfile.TarInfo, pax: dict[str, str], *_: Any) -> None:
        raise ArchiveRefused("sparse file", member=pax.get("path", following.name))

    def _proc_gnusparse_10(self, following: tarfile.TarInfo, pax: dict[str, str], *_: Any) -> None:
        raise ArchiveRefused("sparse file", member=pax.get("path", following.name))


BoundedTarFile.tarinfo = BoundedTarInfo


def _check_extended_header(header: tarfile.TarInfo, archive: BoundedTarFile, kind: str) -> None:
    if header.size < 0 or header.size > MAX_EXTENDED_HEADER_BYTES:
        raise ArchiveRefused(
            f"{kind} of {header.size} bytes (at most {MAX_EXTENDED_HEADER_BYTES} are read)",
            member=header.name,
        )
    if archive.extended_headers_in_row >= MAX_EXTENDED_HEADERS_IN_ROW:
        raise ArchiveRefused(
            f"more than {MAX_EXTENDED_HEADERS_IN_ROW} extended headers before one member",
            member=header.name,
        )
    if header.type == tarfile.XGLTYPE:
        archive.global_header_bytes += header.size
        if archive.global_header_bytes > MAX_GLOBAL_HEADER_BYTES:
            raise ArchiveRefused(
                f"PAX global headers over {MAX_GLOBAL_HEADER_BYTES} bytes in all",
                member=header.name,
            )
