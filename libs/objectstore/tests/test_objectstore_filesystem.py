"""What only the filesystem store does: layout on disk, staging, ``file://`` URLs, mtimes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from objectstore import FilesystemObjectStore, InvalidKey, ObjectStoreError
from objectstore.filesystem import STAGING_DIRECTORY


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
def store(tmp_path: Path) -> FilesystemObjectStore:
    return FilesystemObjectStore(tmp_path / "root")


async def test_keys_map_to_files_under_the_root(store: FilesystemObjectStore) -> None:
    await store.put_stream("releases/app/1.0.0.tgz", chunks_of(b"ab", b"cd"))

    assert (store.root / "releases" / "app" / "1.0.0.tgz").read_bytes() == b"abcd"
    assert list((store.root / STAGING_DIRECTORY).iterdir()) == []


async def test_the_staging_directory_is_neither_listed_nor_addressable(
    store: FilesystemObjectStore,
) -> None:
    await store.ensure_bucket()
    (store.root / STAGING_DIRECTORY / "leftover.partial").write_bytes(b"half")

    assert await store.list() == []
    with pytest.raises(InvalidKey):
        await store.head(f"{STAGING_DIRECTORY}/leftover.partial")


async def test_upload_is_invisible_until_complete(store: FilesystemObjectStore) -> None:
    seen_during_upload: list[object] = []

    async def watching() -> AsyncIterator[bytes]:
        yield b"first half "
        seen_during_upload.append(await store.head("growing.txt"))
        yield b"second half"

    await store.put_stream("growing.txt", watching())

    assert seen_during_upload == [None]
    assert (store.root / "growing.txt").read_bytes() == b"first half second half"


async def test_presigned_url_is_the_file_url_of_the_object(store: FilesystemObjectStore) -> None:
    await store.put_stream("a b/c.txt", chunks_of(b"c"))

    url = await store.presigned_get_url("a b/c.txt", expires_in=60)

    assert url == (store.root / "a b" / "c.txt").as_uri()
    assert url.startswith("file:///")


async def test_delete_removes_directories_left_empty(store: FilesystemObjectStore) -> None:
    await store.put_stream("a/b/c/d.txt", chunks_of(b"d"))
    await store.put_stream("a/keep.txt", chunks_of(b"k"))

    await store.delete("a/b/c/d.txt")

    assert not (store.root / "a" / "b").exists()
    assert (store.root / "a" / "keep.txt").exists()


async def test_keep_latest_orders_by_modification_time_before_key(
    store: FilesystemObjectStore,
) -> None:
    # Keys sort the opposite way from their ages, so only the times can give this answer.
    ages = {"logs/a": 3, "logs/b": 2, "logs/c": 1, "logs/d": 4}
    for key, days_old in ages.items():
        await store.put_stream(key, chunks_of(b"x"))
        moment = datetime(2026, 5, 10 - days_old, tzinfo=UTC).timestamp()
        os.utime(store.path_for(key), (moment, moment))

    deleted = await store.keep_latest("logs/", 2)

    assert deleted == ["logs/d", "logs/a"]
    assert [info.key for info in await store.list("logs/")] == ["logs/b", "logs/c"]
    listed = await store.head("logs/c")
    assert listed is not None
    assert listed.last_modified == datetime(2026, 5, 9, tzinfo=UTC)


async def test_a_key_below_an_existing_object_is_a_store_error(
    store: FilesystemObjectStore,
) -> None:
    await store.put_stream("a", chunks_of(b"file"))

    with pytest.raises(ObjectStoreError):
        await store.put_stream("a/b", chunks_of(b"nested"))

    assert list((store.root / STAGING_DIRECTORY).iterdir()) == []


async def test_download_replaces_an_existing_file_whole(
    store: FilesystemObjectStore, tmp_path: Path
) -> None:
    destination = tmp_path / "artifact.tgz"
    destination.write_bytes(b"old contents that are longer")
    await store.put_stream("artifact.tgz", chunks_of(b"new"))

    result = await store.get_to_file("artifact.tgz", destination)

    assert destination.read_bytes() == b"new"
    assert result.size == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["artifact.tgz", "root"]
