"""What an archive may hold: real tar output passes, every rule and bound refuses by name."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from archivesafety import (
    MAX_EXTENDED_HEADER_BYTES,
    MAX_EXTENDED_HEADERS_IN_ROW,
    ArchiveLimits,
    ArchiveRefused,
    ArchiveUnreadable,
    SafeMember,
    open_archive,
    safe_members,
)

Member = tuple[tarfile.TarInfo, bytes | None]


def regular(name: str, data: bytes = b"x") -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name: str, kind: bytes, **fields: object) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    for field, value in fields.items():
        setattr(info, field, value)
    return info, None


def write(
    path: Path,
    *members: Member,
    mode: str = "w:gz",
    tar_format: int = tarfile.PAX_FORMAT,
    pax_headers: dict[str, str] | None = None,
) -> Path:
    with tarfile.open(path, mode, format=tar_format, pax_headers=pax_headers) as archive:  # type: ignore[call-overload]
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def read(path: Path, limits: ArchiveLimits | None = None) -> list[SafeMember]:
    with open_archive(path) as archive:
        return list(safe_members(archive, limits))


def refusal(path: Path, limits: ArchiveLimits | None = None) -> ArchiveRefused:
    with pytest.raises(ArchiveRefused) as caught:
        read(path, limits)
    return caught.value


@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_long_names_and_links_as_tar_writes_them_are_read_whole(
    tmp_path: Path, tar_format: int
) -> None:
    deep = "/".join(["directory"] * 30) + "/file.yaml"
    archive = write(
        tmp_path / "a.tgz",
        regular(deep),
        special("link", tarfile.SYMTYPE, linkname=deep),
        tar_format=tar_format,
    )
    assert [(m.name, m.info.linkname) for m in read(archive)] == [(deep, ""), ("link", deep)]


def test_a_pax_global_header_as_git_archive_writes_it_is_accepted(tmp_path: Path) -> None:
    archive = write(tmp_path / "a.tgz", regular("compose.yaml"), pax_headers={"comment": "a" * 40})
    assert [member.name for member in read(archive)] == ["compose.yaml"]


@pytest.mark.parametrize("mode", ["w", "w:bz2", "w:xz"])
def test_uncompressed_and_other_compressions_are_read(tmp_path: Path, mode: str) -> None:
    assert [member.name for member in read(write(tmp_path / "a", regular("a"), mode=mode))] == ["a"]


def test_the_top_directory_is_not_a_member(tmp_path: Path) -> None:
    top = tarfile.TarInfo(".")
    top.type = tarfile.DIRTYPE
    assert [member.name for member in read(write(tmp_path / "a", (top, None), regular("./a")))] == [
        "a"
    ]


def test_a_file_cannot_name_the_top(tmp_path: Path) -> None:
    assert refusal(write(tmp_path / "a", regular("./"))).reason == (
        "only a directory may name the top"
    )


def test_a_hard_link_names_its_earlier_file_and_counts_its_bytes_again(tmp_path: Path) -> None:
    archive = write(
        tmp_path / "a.tgz",
        regular("data", b"x" * 600),
        special("copy", tarfile.LNKTYPE, linkname="data"),
    )
    assert read(archive, ArchiveLimits(max_bytes=1200))[1].link_source == "data"
    refused = refusal(archive, ArchiveLimits(max_bytes=1199))
    assert refused.member == "copy"
    assert "larger than 1199 bytes" in refused.reason


def test_more_entries_than_the_limit_are_refused_at_the_first_too_many(tmp_path: Path) -> None:
    archive = write(tmp_path / "a.tgz", *[regular(f"f{n}") for n in range(5)])
    assert len(read(archive, ArchiveLimits(max_entries=5))) == 5
    assert refusal(archive, ArchiveLimits(max_entries=4)).member == "f4"


def test_an_extended_header_is_read_up_to_its_bound_and_no_further(tmp_path: Path) -> None:
    # A PAX record of exactly the bound (a comment padded to it) is read; one byte more is not.
    overhead = len(f"{MAX_EXTENDED_HEADER_BYTES} comment=\n")
    fits = {"comment": "a" * (MAX_EXTENDED_HEADER_BYTES - overhead)}
    info, data = regular("a")
    info.pax_headers = fits
    assert [m.name for m in read(write(tmp_path / "fits.tgz", (info, data)))] == ["a"]
    info.pax_headers = {"comment": fits["comment"] + "a"}
    refused = refusal(write(tmp_path / "over.tgz", (info, data)))
    assert f"PAX extended header of {MAX_EXTENDED_HEADER_BYTES + 1} bytes" in refused.reason


def pax_block(kind: bytes, record: bytes) -> bytes:
    """A PAX header of ``kind`` holding ``record``, as raw blocks."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = kind
    header.size = len(record)
    padding = b"\0" * (-len(record) % tarfile.BLOCKSIZE)
    return header.tobuf(tarfile.GNU_FORMAT) + record + padding


def raw_archive(path: Path, *headers: bytes) -> Path:
    """The headers, then one empty file, then the end of the archive."""
    info, _ = regular("a", b"")
    path.write_bytes(b"".join(headers) + info.tobuf(tarfile.GNU_FORMAT) + b"\0" * 1024)
    return path


def test_a_long_chain_of_extended_headers_is_refused(tmp_path: Path) -> None:
    chain = [pax_block(tarfile.XHDTYPE, b"18 comment=again\n")] * MAX_EXTENDED_HEADERS_IN_ROW
    assert [m.name for m in read(raw_archive(tmp_path / "fits.tar", *chain))] == ["a"]
    refused = refusal(raw_archive(tmp_path / "over.tar", *chain, chain[0]))
    assert "extended headers before one member" in refused.reason


def test_pax_global_headers_are_bounded_in_all(tmp_path: Path) -> None:
    record = b"5000 comment=" + b"a" * (5000 - len("5000 comment=\n")) + b"\n"
    global_header = pax_block(tarfile.XGLTYPE, record)
    assert [m.name for m in read(raw_archive(tmp_path / "one.tar", global_header))] == ["a"]
    refused = refusal(raw_archive(tmp_path / "two.tar", global_header, global_header))
    assert "PAX global headers over" in refused.reason


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([regular("../a")], "'..' in the path"),
        ([regular("/etc/a")], "absolute path"),
        ([special("l", tarfile.SYMTYPE, linkname="../out")], "leaves the archive"),
        ([special("l", tarfile.LNKTYPE, linkname="later")], "not an earlier file"),
        ([special("d", tarfile.CHRTYPE)], "device"),
        ([special("p", tarfile.FIFOTYPE)], "FIFO"),
        ([regular("a"), regular("a")], "appears twice"),
        ([regular("a"), regular("a/b")], "a is not a directory"),
    ],
)
def test_each_rule_refuses_naming_the_member(
    tmp_path: Path, members: list[Member], reason: str
) -> None:
    refused = refusal(write(tmp_path / "a.tgz", *members))
    assert reason in refused.reason
    assert refused.member == members[-1][0].name.rstrip("/")


def test_a_negative_size_is_refused(tmp_path: Path) -> None:
    info, data = regular("a", b"")
    info.pax_headers = {"size": "-1"}
    assert refusal(write(tmp_path / "a.tgz", (info, data))).reason == "negative size"


def test_something_that_is_not_a_tar_archive_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "a.tgz"
    path.write_bytes(b"PK\x03\x04 a zip file" * 100)
    with pytest.raises(ArchiveUnreadable, match="not a readable tar archive"):
        read(path)


def test_members_do_not_keep_their_pax_records(tmp_path: Path) -> None:
    info, data = regular("a")
    info.pax_headers = {"comment": "c" * 1000}
    assert read(write(tmp_path / "a.tgz", (info, data)))[0].info.pax_headers == {}


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_an_open_binary_file_is_read_like_a_path(tmp_path: Path, mode: str) -> None:
    archive = write(tmp_path / "a.tar", regular("docs/readme.txt", b"hello"), mode=mode)
    with archive.open("rb") as handle, open_archive(handle) as opened:
        [member] = list(safe_members(opened))
        reader = opened.extractfile(member.info)
        assert reader is not None
        assert (member.name, reader.read()) == ("docs/readme.txt", b"hello")


def test_an_open_file_that_is_no_tar_is_unreadable() -> None:
    with pytest.raises(ArchiveUnreadable), open_archive(io.BytesIO(b"not a tar at all" * 64)):
        pass
