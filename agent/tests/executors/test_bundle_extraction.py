import io
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from wrktalk_agent.errors import BundleRejected
from wrktalk_agent.executors.bundle_extraction import extract_bundle

COMPOSE = b"services:\n  backend:\n    image: busybox\n"

Member = tuple[tarfile.TarInfo, bytes | None]


def regular(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    member = tarfile.TarInfo(name)
    member.size = len(data)
    member.mode = mode
    return member, data


def special(name: str, kind: bytes, **fields: object) -> Member:
    member = tarfile.TarInfo(name)
    member.type = kind
    for field, value in fields.items():
        setattr(member, field, value)
    return member, None


def archive(tmp_path: Path, *members: Member, compose: bool = True) -> Path:
    path = tmp_path / "bundle.tar.gz"
    with tarfile.open(path, "w:gz") as bundle:
        if compose:
            info, data = regular("docker-compose.yml", COMPOSE)
            bundle.addfile(info, io.BytesIO(data))
        for info, data in members:
            bundle.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def extract(tmp_path: Path, bundle: Path, **limits: int) -> Path:
    destination = tmp_path / "site" / "release"
    destination.mkdir(parents=True)
    return extract_bundle(
        bundle,
        destination,
        max_files=limits.get("max_files", 100),
        max_bytes=limits.get("max_bytes", 1_000_000),
    )


def test_a_bundle_one_directory_down_is_extracted_with_safe_modes(tmp_path: Path) -> None:
    directory = tarfile.TarInfo("wrktalk")
    directory.type = tarfile.DIRTYPE
    directory.mode = 0o755
    bundle = archive(
        tmp_path,
        (directory, None),
        regular("wrktalk/compose.yaml", COMPOSE),
        regular("wrktalk/bin/tool", b"#!/bin/sh\n", mode=0o4777),
        special("wrktalk/current", tarfile.SYMTYPE, linkname="bin/tool"),
        special("wrktalk/copy", tarfile.LNKTYPE, linkname="wrktalk/bin/tool"),
        compose=False,
    )
    project = extract(tmp_path, bundle)
    assert project.name == "wrktalk"
    tool = project / "bin" / "tool"
    mode = stat.S_IMODE(tool.stat().st_mode)
    assert mode == 0o755
    assert (project / "current").resolve() == tool.resolve()
    assert (project / "copy").read_bytes() == b"#!/bin/sh\n"
    assert not (project / "copy").is_symlink()


MALICIOUS: dict[str, Callable[[], list[Member]]] = {
    "absolute path": lambda: [regular("/tmp/evil")],
    "parent directory": lambda: [regular("../evil")],
    "parent directory deeper": lambda: [regular("wrktalk/../../evil")],
    "absolute symlink": lambda: [special("etc", tarfile.SYMTYPE, linkname="/etc")],
    "escaping symlink": lambda: [special("up", tarfile.SYMTYPE, linkname="../../outside")],
    "symlink through a symlink": lambda: [
        special("here", tarfile.SYMTYPE, linkname="."),
        special("up", tarfile.SYMTYPE, linkname="here/.."),
    ],
    "file through a symlink": lambda: [
        special("sub", tarfile.SYMTYPE, linkname="inner"),
        regular("sub/evil"),
    ],
    "hard link outside": lambda: [special("passwd", tarfile.LNKTYPE, linkname="/etc/passwd")],
    "hard link to unknown file": lambda: [special("copy", tarfile.LNKTYPE, linkname="nothing")],
    "character device": lambda: [special("null", tarfile.CHRTYPE, devmajor=1, devminor=3)],
    "block device": lambda: [special("disk", tarfile.BLKTYPE, devmajor=8, devminor=0)],
    "fifo": lambda: [special("pipe", tarfile.FIFOTYPE)],
    "duplicate name": lambda: [regular("app.env"), regular("app.env")],
    "symlink replacing a file": lambda: [
        regular("config"),
        special("config", tarfile.SYMTYPE, linkname="/etc/shadow"),
    ],
}


@pytest.mark.parametrize("rule", sorted(MALICIOUS))
def test_each_malicious_bundle_is_refused_before_anything_is_written(
    tmp_path: Path, rule: str
) -> None:
    bundle = archive(tmp_path, *MALICIOUS[rule]())
    destination = tmp_path / "site" / "release"
    with pytest.raises(BundleRejected):
        extract(tmp_path, bundle)
    assert list(destination.iterdir()) == []
    assert sorted(path.name for path in (tmp_path / "site").iterdir()) == ["release"]
    assert not Path("/tmp/evil").exists()


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    bundle = archive(tmp_path, *[regular(f"file-{n}") for n in range(20)])
    with pytest.raises(BundleRejected, match="more than 10 entries"):
        extract(tmp_path, bundle, max_files=10)


def test_too_many_bytes_are_refused(tmp_path: Path) -> None:
    bundle = archive(tmp_path, regular("big", b"x" * 5000))
    with pytest.raises(BundleRejected, match="larger than 4096 bytes"):
        extract(tmp_path, bundle, max_bytes=4096)


def test_hard_links_count_their_bytes_again_against_the_limit(tmp_path: Path) -> None:
    # Each link is written as a copy: 3000 bytes and one link to them write 6000.
    bundle = archive(
        tmp_path, regular("data", b"x" * 3000), special("copy", tarfile.LNKTYPE, linkname="data")
    )
    with pytest.raises(BundleRejected, match="copy: the archive is larger than 4096 bytes"):
        extract(tmp_path, bundle, max_bytes=4096)
    assert list((tmp_path / "site" / "release").iterdir()) == []


def test_a_bundle_without_a_compose_file_is_refused(tmp_path: Path) -> None:
    bundle = archive(tmp_path, regular("README.md"), compose=False)
    with pytest.raises(BundleRejected, match="no Compose file"):
        extract(tmp_path, bundle)


def test_something_that_is_not_a_tar_archive_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(b"PK\x03\x04 not a tar")
    with pytest.raises(BundleRejected, match="not a readable tar archive"):
        extract(tmp_path, bundle)
