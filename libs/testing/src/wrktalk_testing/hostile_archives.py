"""A corpus of hostile gzip tar archives, built at test time (no binary is committed).

Each archive is a Compose bundle (it starts with a valid ``docker-compose.yml``) followed by
one attack: a path that leaves the directory, a link that points out, a device, a tar header
of tens of megabytes, a hard link that multiplies one file, a gzip bomb, more entries than the
limit. Each names the refusal expected from GCC's upload check and from the agent.

The large ones are cheap to build: a tar stream is written as segments, a segment may repeat
one block many times, and each distinct block is gzip-compressed once and repeated as its own
gzip member (a gzip file may hold many; every reader joins them). A 64 MiB header costs a few
kilobytes of gzip and no memory to build.
"""

from __future__ import annotations

import gzip
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BLOCK: Final = tarfile.BLOCKSIZE
MIB: Final = 1024 * 1024
HEADER_BYTES: Final = 64 * MIB
"""Size of each oversized tar header: far past any bound, cheap as repeated blocks."""
COMPOSE: Final = b"services:\n  backend:\n    image: busybox\n"


@dataclass(frozen=True)
class Repeat:
    """``block`` written ``count`` times in a row."""

    block: bytes
    count: int


Segment = bytes | Repeat


@dataclass(frozen=True)
class HostileArchive:
    """One case of the corpus: how to build it and what its refusal says."""

    name: str
    refusal: str
    segments: Callable[[], list[Segment]]


def header(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, **fields: object) -> bytes:
    """One 512-byte tar header block."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o644
    for field, value in fields.items():
        setattr(info, field, value)
    return info.tobuf(format=tarfile.GNU_FORMAT)


def padded(data: bytes) -> bytes:
    """``data`` padded with NULs to a whole number of blocks."""
    return data + b"\0" * (-len(data) % BLOCK)


def file_member(name: str, data: bytes) -> bytes:
    """A regular file's header and data."""
    return header(name, size=len(data)) + padded(data)


def pax_record(keyword: str, value: str) -> bytes:
    """One PAX record: ``"<length> <keyword>=<value>\\n"``, the length counting itself."""
    body = f" {keyword}={value}\n".encode()
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length += 1
    return str(length).encode() + body


def end_of_archive() -> bytes:
    """Two zero blocks."""
    return b"\0" * (2 * BLOCK)


def filler(size: int, pattern: bytes = b"a") -> list[Segment]:
    """``size`` bytes of ``pattern`` over and over, as repeated megabytes and a rest."""
    megabyte = (pattern * (MIB // len(pattern) + 1))[:MIB]
    whole, rest = divmod(size, MIB)
    return [Repeat(megabyte, whole), megabyte[:rest]]


def bundle(*attack: Segment) -> list[Segment]:
    """A Compose file, then the attack, then the end of the archive."""
    return [file_member("docker-compose.yml", COMPOSE), *attack, end_of_archive()]


def write_gzip(path: Path, segments: Iterable[Segment]) -> Path:
    """Write the segments to ``path`` as a gzip file (one gzip member per segment)."""
    compressed: dict[bytes, bytes] = {}
    with path.open("wb") as out:
        for segment in segments:
            block, count = (
                (segment.block, segment.count) if isinstance(segment, Repeat) else (segment, 1)
            )
            if not block or not count:
                continue
            if block not in compressed:
                compressed[block] = gzip.compress(block, compresslevel=9, mtime=0)
            for _ in range(count):
                out.write(compressed[block])
    return path


def _long_header(kind: bytes) -> list[Segment]:
    # NUL-free, so tarfile would keep all of it as the name.
    return bundle(
        header("././@LongLink", kind, HEADER_BYTES),
        *filler(HEADER_BYTES),
        file_member("after-the-header", b"x"),
    )


def _pax_header(kind: bytes) -> list[Segment]:
    # One well-formed record "<length> comment=aaaa...\n" of about HEADER_BYTES, never held
    # whole.
    value = HEADER_BYTES - BLOCK
    digits = next(d for d in range(1, 20) if len(str(d + len(" comment=") + value + 1)) == d)
    length = digits + len(" comment=") + value + 1
    return bundle(
        header("././@PaxHeader", kind, length),
        f"{length} comment=".encode(),
        *filler(value),
        b"\n" + b"\0" * (-length % BLOCK),
        file_member("after-the-header", b"x"),
    )


def _pax_chain() -> list[Segment]:
    record = pax_record("comment", "again")
    link = header("././@PaxHeader", tarfile.XHDTYPE, len(record)) + padded(record)
    # Ten thousand headers for one member; tarfile reads each by calling itself again.
    return bundle(Repeat(link * 100, 100), file_member("after-the-chain", b"x"))


def _gnu_sparse_chain() -> list[Segment]:
    # A GNU sparse header whose extension blocks each say another follows, 21 regions each.
    region = b"%011o\0%011o\0" % (BLOCK, BLOCK)
    extension = (region * 21).ljust(504, b"\0") + b"\x01" + b"\0" * 7
    first = bytearray(header("sparse", tarfile.GNUTYPE_SPARSE, BLOCK))
    first[482] = 1  # "isextended"
    first[148:156] = b" " * 8
    first[148:155] = b"%06o\0" % sum(first)
    return bundle(bytes(first), Repeat(extension * 2048, HEADER_BYTES // BLOCK // 2048))


def _pax_sparse_map() -> list[Segment]:
    # GNU sparse 1.0: the map is read from the data as newline-ended numbers, as many as the
    # first number says.
    records = b"".join(
        pax_record(key, value)
        for key, value in (
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "sparse"),
            ("GNU.sparse.realsize", "1"),
        )
    )
    count = b"999999999\n"
    return bundle(
        header("././@PaxHeader", tarfile.XHDTYPE, len(records)),
        padded(records),
        header("sparse", size=HEADER_BYTES),
        count,
        *filler(HEADER_BYTES - len(count), b"1\n"),
    )


def _hardlink_amplification() -> list[Segment]:
    # One 10 MiB file and eleven hard links to it: 120 MiB once written, 10 KiB of gzip.
    links = [header(f"copy-{n}", tarfile.LNKTYPE, linkname="big") for n in range(11)]
    return bundle(header("big", size=10 * MIB), *filler(10 * MIB, b"\0"), *links)


def _gzip_bomb_one_member() -> list[Segment]:
    return bundle(header("zeros", size=1024 * MIB), *filler(1024 * MIB, b"\0"))


def _gzip_bomb_spread() -> list[Segment]:
    # 200 files of 1 MiB of zeros: each is under any limit, together they are not.
    members: list[Segment] = []
    for n in range(200):
        members += [header(f"zeros-{n}", size=MIB), Repeat(b"\0" * MIB, 1)]
    return bundle(*members)


def _many_entries() -> list[Segment]:
    return bundle(b"".join(header(f"entry-{n}") for n in range(20_000)))


def _negative_size() -> list[Segment]:
    record = pax_record("size", "-1")
    return bundle(
        header("././@PaxHeader", tarfile.XHDTYPE, len(record)),
        padded(record),
        header("negative"),
    )


HOSTILE_ARCHIVES: Final = [
    HostileArchive(
        "parent-directory", "'..' in the path", lambda: bundle(file_member("../evil", b"x"))
    ),
    HostileArchive(
        "parent-directory-deeper",
        "'..' in the path",
        lambda: bundle(file_member("wrktalk/../../evil", b"x")),
    ),
    HostileArchive(
        "absolute-path", "absolute path", lambda: bundle(file_member("/etc/cron.d/evil", b"x"))
    ),
    HostileArchive(
        "symlink-absolute",
        "link to the absolute path /etc",
        lambda: bundle(header("etc", tarfile.SYMTYPE, linkname="/etc")),
    ),
    HostileArchive(
        "symlink-escaping",
        "leaves the archive",
        lambda: bundle(header("up", tarfile.SYMTYPE, linkname="../../outside")),
    ),
    HostileArchive(
        "symlink-through-symlink",
        "passes through another link",
        lambda: bundle(
            header("here", tarfile.SYMTYPE, linkname="."),
            header("up", tarfile.SYMTYPE, linkname="here/.."),
        ),
    ),
    HostileArchive(
        "file-through-symlink",
        "passes through the link",
        lambda: bundle(
            header("sub", tarfile.SYMTYPE, linkname="inner"), file_member("sub/evil", b"x")
        ),
    ),
    HostileArchive(
        "hardlink-outside",
        "hard link to /etc/passwd",
        lambda: bundle(header("passwd", tarfile.LNKTYPE, linkname="/etc/passwd")),
    ),
    HostileArchive(
        "character-device",
        "device",
        lambda: bundle(header("null", tarfile.CHRTYPE, devmajor=1, devminor=3)),
    ),
    HostileArchive(
        "block-device",
        "device",
        lambda: bundle(header("disk", tarfile.BLKTYPE, devmajor=8, devminor=0)),
    ),
    HostileArchive("fifo", "FIFO", lambda: bundle(header("pipe", tarfile.FIFOTYPE))),
    HostileArchive(
        "duplicate-name",
        "appears twice",
        lambda: bundle(file_member("app.env", b"a"), file_member("app.env", b"b")),
    ),
    HostileArchive(
        "gnu-long-name", "GNU long-name record", lambda: _long_header(tarfile.GNUTYPE_LONGNAME)
    ),
    HostileArchive(
        "gnu-long-link", "GNU long-link record", lambda: _long_header(tarfile.GNUTYPE_LONGLINK)
    ),
    HostileArchive("pax-header", "PAX extended header", lambda: _pax_header(tarfile.XHDTYPE)),
    HostileArchive("pax-global-header", "PAX global header", lambda: _pax_header(tarfile.XGLTYPE)),
    HostileArchive("pax-header-chain", "extended headers before one member", _pax_chain),
    HostileArchive("gnu-sparse-chain", "sparse file", _gnu_sparse_chain),
    HostileArchive("pax-sparse-map", "sparse file", _pax_sparse_map),
    HostileArchive("negative-size", "negative size", _negative_size),
    HostileArchive("hardlink-amplification", "larger than", _hardlink_amplification),
    HostileArchive("gzip-bomb-one-member", "larger than", _gzip_bomb_one_member),
    HostileArchive("gzip-bomb-spread", "larger than", _gzip_bomb_spread),
    HostileArchive("many-entries", "more than 2000 entries", _many_entries),
]
"""Every case, in the order a reader would think of them."""


def build_hostile_corpus(directory: Path) -> dict[str, Path]:
    """Write every archive of :data:`HOSTILE_ARCHIVES` into ``directory``; name to path."""
    directory.mkdir(parents=True, exist_ok=True)
    return {
        case.name: write_gzip(directory / f"{case.name}.tar.gz", case.segments())
        for case in HOSTILE_ARCHIVES
    }
