"""Behaviour both object stores share, run against S3 (moto over HTTP) and the filesystem."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx
import pytest

from objectstore import (
    FilesystemObjectStore,
    InvalidKey,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
)
from objectstore.filesystem import STAGING_DIRECTORY

MIB = 1024 * 1024


def random_bytes(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


async def chunked(data: bytes, chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        await asyncio.sleep(0)
        yield data[start : start + chunk_size]


async def failing_after(data: bytes, error: Exception) -> AsyncIterator[bytes]:
    async for chunk in chunked(data, MIB):
        yield chunk
    raise error


def pending_uploads(store: ObjectStore, s3_client: Any) -> list[str]:
    """Multipart uploads still open (S3) or staged files left over (filesystem)."""
    if isinstance(store, S3ObjectStore):
        response = s3_client.list_multipart_uploads(Bucket=store.bucket)
        return [upload["Key"] for upload in response.get("Uploads", [])]
    assert isinstance(store, FilesystemObjectStore)
    staging = store.root / STAGING_DIRECTORY
    return [path.name for path in staging.iterdir()] if staging.exists() else []


@pytest.fixture
def s3_client_or_none(store: ObjectStore, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("s3_client") if isinstance(store, S3ObjectStore) else None


async def test_streamed_upload_and_download_sha256_equal_hashlib(
    store: ObjectStore, tmp_path: Path
) -> None:
    data = random_bytes(3 * MIB + 123)
    expected = hashlib.sha256(data).hexdigest()

    stored = await store.put_stream("artifacts/app-1.0.0.tgz", chunked(data))
    downloaded = await store.get_to_file("artifacts/app-1.0.0.tgz", tmp_path / "out" / "app.tgz")

    assert (stored.sha256, stored.size) == (expected, len(data))
    assert (downloaded.sha256, downloaded.size) == (expected, len(data))
    assert (tmp_path / "out" / "app.tgz").read_bytes() == data
    assert stored.last_modified.tzinfo is not None


async def test_put_file_round_trips_and_reports_digest(store: ObjectStore, tmp_path: Path) -> None:
    data = random_bytes(2 * MIB + 5, seed=2)
    source = tmp_path / "source.bin"
    source.write_bytes(data)

    stored = await store.put_file("files/source.bin", source, content_type="application/gzip")
    downloaded = await store.get_to_file("files/source.bin", tmp_path / "copy.bin")

    assert stored.sha256 == downloaded.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == downloaded.size == len(data)
    assert (tmp_path / "copy.bin").read_bytes() == data


async def test_put_file_of_a_missing_source_raises_file_not_found(
    store: ObjectStore, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await store.put_file("files/none.bin", tmp_path / "does-not-exist")

    assert await store.list() == []


async def test_stream_above_multipart_threshold_round_trips(
    store: ObjectStore, tmp_path: Path
) -> None:
    data = random_bytes(11 * MIB, seed=3)

    stored = await store.put_stream("big/object.bin", chunked(data, 700 * 1024))
    downloaded = await store.get_to_file("big/object.bin", tmp_path / "object.bin")

    assert stored.size == len(data)
    assert downloaded.sha256 == stored.sha256 == hashlib.sha256(data).hexdigest()
    head = await store.head("big/object.bin")
    assert head is not None
    assert head.size == len(data)


async def test_empty_stream_stores_an_empty_object(store: ObjectStore, tmp_path: Path) -> None:
    stored = await store.put_stream("empty", chunked(b""))

    downloaded = await store.get_to_file("empty", tmp_path / "empty")

    assert stored.size == downloaded.size == 0
    assert downloaded.sha256 == hashlib.sha256(b"").hexdigest()


async def test_source_failing_mid_stream_leaves_no_object_and_no_pending_upload(
    store: ObjectStore, s3_client_or_none: Any
) -> None:
    with pytest.raises(RuntimeError, match="source broke"):
        await store.put_stream(
            "big/broken.bin", failing_after(random_bytes(7 * MIB), RuntimeError("source broke"))
        )

    assert await store.head("big/broken.bin") is None
    assert await store.list("big/") == []
    assert pending_uploads(store, s3_client_or_none) == []


async def test_failed_upload_keeps_the_previous_object(store: ObjectStore) -> None:
    await store.put_stream("artifact", chunked(b"version one"))

    with pytest.raises(RuntimeError):
        await store.put_stream("artifact", failing_after(random_bytes(7 * MIB), RuntimeError()))

    chunks = [chunk async for chunk in store.iter_chunks("artifact")]
    assert b"".join(chunks) == b"version one"


async def test_cancelled_upload_leaves_no_pending_upload(
    store: ObjectStore, s3_client_or_none: Any
) -> None:
    waiting_for_more = asyncio.Event()

    async def stalls_after_a_part() -> AsyncIterator[bytes]:
        async for chunk in chunked(random_bytes(6 * MIB), MIB):
            yield chunk
        waiting_for_more.set()
        await asyncio.Event().wait()
        yield b"never"

    upload = asyncio.create_task(store.put_stream("stalled.bin", stalls_after_a_part()))
    await waiting_for_more.wait()
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload

    assert await store.head("stalled.bin") is None
    assert pending_uploads(store, s3_client_or_none) == []


async def test_iter_chunks_yields_requested_chunk_sizes(store: ObjectStore) -> None:
    data = random_bytes(MIB + 10, seed=4)
    await store.put_stream("chunks.bin", chunked(data, 100_000))

    chunks = [chunk async for chunk in store.iter_chunks("chunks.bin", chunk_size=256 * 1024)]

    assert [len(chunk) for chunk in chunks] == [256 * 1024] * 4 + [10]
    assert b"".join(chunks) == data


async def test_iter_chunks_stopped_early_leaves_the_store_usable(store: ObjectStore) -> None:
    await store.put_stream("chunks.bin", chunked(random_bytes(2 * MIB)))

    iterator = store.iter_chunks("chunks.bin", chunk_size=64 * 1024)
    first = await anext(iterator)
    await iterator.aclose()

    assert len(first) == 64 * 1024
    assert await store.head("chunks.bin") is not None


async def test_head_reports_size_and_aware_last_modified(store: ObjectStore) -> None:
    await store.put_stream("reports/a.json", chunked(b'{"a": 1}'))

    info = await store.head("reports/a.json")

    assert info is not None
    assert (info.key, info.size) == ("reports/a.json", 8)
    assert info.last_modified.utcoffset() is not None


async def test_head_of_missing_key_is_none(store: ObjectStore) -> None:
    assert await store.head("missing/key") is None


async def test_list_returns_keys_under_prefix_sorted_with_sizes(store: ObjectStore) -> None:
    for key, body in [
        ("releases/app/2.0.0.tgz", b"22"),
        ("releases/app/1.0.0.tgz", b"1"),
        ("releases/application.txt", b"333"),
        ("releases/other/1.0.0.tgz", b"4444"),
        ("unrelated.txt", b"x"),
    ]:
        await store.put_stream(key, chunked(body))

    listed = await store.list("releases/app")

    assert [(info.key, info.size) for info in listed] == [
        ("releases/app/1.0.0.tgz", 1),
        ("releases/app/2.0.0.tgz", 2),
        ("releases/application.txt", 3),
    ]
    assert all(info.last_modified.utcoffset() is not None for info in listed)
    assert [info.key for info in await store.list("releases/app/")] == [
        "releases/app/1.0.0.tgz",
        "releases/app/2.0.0.tgz",
    ]
    assert len(await store.list()) == 5
    assert await store.list("nothing/here/") == []


async def test_delete_removes_the_object_and_tolerates_missing_keys(store: ObjectStore) -> None:
    await store.put_stream("a/b/c.txt", chunked(b"c"))
    await store.put_stream("a/d.txt", chunked(b"d"))

    await store.delete("a/b/c.txt")
    await store.delete("a/b/c.txt")

    assert await store.head("a/b/c.txt") is None
    assert [info.key for info in await store.list("a/")] == ["a/d.txt"]


async def test_missing_key_raises_object_not_found_and_writes_nothing(
    store: ObjectStore, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    with pytest.raises(ObjectNotFound) as raised:
        await store.get_to_file("missing.bin", downloads / "never.bin")
    with pytest.raises(ObjectNotFound):
        async for _chunk in store.iter_chunks("missing.bin"):
            pass

    assert raised.value.key == "missing.bin"
    assert list(downloads.iterdir()) == []


async def test_presigned_url_serves_the_object(store: ObjectStore) -> None:
    data = random_bytes(100_000, seed=5)
    await store.put_stream("downloads/agent.tgz", chunked(data))

    url = await store.presigned_get_url("downloads/agent.tgz", expires_in=60)

    if isinstance(store, S3ObjectStore):
        assert "X-Amz-Expires=60" in url
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
        assert response.status_code == 200
        assert response.content == data
    else:
        assert url.startswith("file://")
        assert Path(url2pathname(urlsplit(url).path)).read_bytes() == data


@pytest.mark.parametrize("expires_in", [0, -5])
async def test_presigned_url_needs_a_positive_expiry(store: ObjectStore, expires_in: int) -> None:
    with pytest.raises(ValueError, match="expires_in"):
        await store.presigned_get_url("downloads/agent.tgz", expires_in=expires_in)


async def put_twelve_versions(store: ObjectStore) -> list[str]:
    """Twelve versions, oldest first; keys ascend with age so S3's one-second ties agree."""
    keys = [f"releases/app/1.0.{number:02d}.tgz" for number in range(1, 13)]
    for key in keys:
        await store.put_stream(key, chunked(key.encode()))
    await store.put_stream("releases/other/0.1.0.tgz", chunked(b"elsewhere"))
    return keys


async def test_keep_latest_spares_a_protected_old_key_and_deletes_only_the_next_oldest(
    store: ObjectStore,
) -> None:
    keys = await put_twelve_versions(store)

    deleted = await store.keep_latest("releases/app/", 10, protect={keys[0]})

    assert deleted == [keys[1]]
    remaining = [info.key for info in await store.list("releases/app/")]
    assert remaining == [keys[0], *keys[2:]]
    assert await store.head("releases/other/0.1.0.tgz") is not None


async def test_keep_latest_counts_a_protected_recent_key_towards_n(store: ObjectStore) -> None:
    keys = await put_twelve_versions(store)

    deleted = await store.keep_latest("releases/app/", 10, protect={keys[-1], "elsewhere"})

    assert deleted == [keys[0], keys[1]]
    assert [info.key for info in await store.list("releases/app/")] == keys[2:]


async def test_keep_latest_with_fewer_objects_than_n_deletes_nothing(store: ObjectStore) -> None:
    keys = await put_twelve_versions(store)

    assert await store.keep_latest("releases/app/", 20) == []
    assert [info.key for info in await store.list("releases/app/")] == keys


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../escape", "a/../../escape", "a//b", "a/./b", "trailing/", "nul\x00"],
)
async def test_keys_outside_the_rules_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await store.put_stream(key, chunked(b"x"))
    with pytest.raises(InvalidKey):
        await store.head(key)
    with pytest.raises(InvalidKey):
        await store.delete(key)
