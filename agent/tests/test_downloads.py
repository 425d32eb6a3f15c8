import hashlib
import stat
from pathlib import Path

import pytest

from contracts import FileRef
from wrktalk_agent.downloads import Downloader, PrivateDirectory
from wrktalk_agent.errors import ChecksumMismatch, TaskFailure

CONTENT = b"replicaCount: 2\n" * 1000


def reference(path: Path, *, sha256: str | None = None, size: int | None = None) -> FileRef:
    return FileRef(
        bucket_path="config/values.r1.yaml",
        download_url=path.as_uri(),
        sha256=sha256 or hashlib.sha256(CONTENT).hexdigest(),
        size_bytes=size,
    )


@pytest.fixture
async def downloader() -> Downloader:
    return Downloader(timeout=5)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "bucket" / "values.yaml"
    path.parent.mkdir()
    path.write_bytes(CONTENT)
    return path


async def test_a_verified_file_lands_private_in_a_private_directory(
    downloader: Downloader, source: Path, tmp_path: Path
) -> None:
    workspace = PrivateDirectory(str(tmp_path / "work"))
    destination = workspace.file_path("release", "config/values.r1.yaml")
    path = await downloader.download(reference(source, size=len(CONTENT)), destination)
    assert path.read_bytes() == CONTENT
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(workspace.path.stat().st_mode) == 0o700
    assert path.name == "release-values.r1.yaml"


async def test_a_digest_mismatch_leaves_no_file(
    downloader: Downloader, source: Path, tmp_path: Path
) -> None:
    destination = tmp_path / "values.yaml"
    with pytest.raises(ChecksumMismatch, match="SHA256 mismatch"):
        await downloader.download(reference(source, sha256="a" * 64), destination)
    assert not destination.exists()


async def test_a_download_larger_than_announced_stops_early(
    downloader: Downloader, source: Path, tmp_path: Path
) -> None:
    destination = tmp_path / "values.yaml"
    with pytest.raises(ChecksumMismatch, match="larger than the expected 100 bytes"):
        await downloader.download(reference(source, size=100), destination)
    assert not destination.exists()


async def test_an_unreadable_source_is_a_retryable_failure(
    downloader: Downloader, tmp_path: Path
) -> None:
    with pytest.raises(TaskFailure) as failure:
        await downloader.download(reference(tmp_path / "gone"), tmp_path / "values.yaml")
    assert failure.value.retryable


def test_wiping_overwrites_and_removes_everything(tmp_path: Path) -> None:
    workspace = PrivateDirectory(str(tmp_path))
    secret = workspace.file_path("release", "config/env.r3")
    secret.write_bytes(b"SECRET_KEY=hunter2\n")
    nested = workspace.subdirectory("scratch") / "rendered.yaml"
    nested.write_text("kind: Secret\n")
    workspace.wipe()
    assert not workspace.path.exists()
