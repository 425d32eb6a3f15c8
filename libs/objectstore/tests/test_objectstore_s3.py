"""What only the S3 store does: multipart parts, bucket creation, pagination, configuration."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from objectstore import (
    FilesystemObjectStore,
    ObjectStoreError,
    S3Credentials,
    S3ObjectStore,
    build_object_store,
)

MIB = 1024 * 1024


async def chunked(data: bytes, chunk_size: int = MIB) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


async def test_stream_above_threshold_is_sent_as_five_mib_parts(
    s3_store: S3ObjectStore, s3_client: Any
) -> None:
    stored = await s3_store.put_stream("big.bin", chunked(os.urandom(11 * MIB), 3 * MIB))

    first_part = s3_client.head_object(Bucket=s3_store.bucket, Key="big.bin", PartNumber=1)
    assert stored.etag is not None
    assert stored.etag.endswith("-3")
    assert first_part["ContentLength"] == 5 * MIB
    assert first_part["PartsCount"] == 3


async def test_stream_at_threshold_is_sent_in_one_put(s3_store: S3ObjectStore) -> None:
    stored = await s3_store.put_stream("exact.bin", chunked(os.urandom(5 * MIB)))

    assert stored.etag is not None
    assert "-" not in stored.etag


async def test_threshold_above_part_size_still_sends_full_parts(
    s3_endpoint: str, s3_bucket: str, s3_client: Any
) -> None:
    async with S3ObjectStore(
        s3_bucket, endpoint_url=s3_endpoint, multipart_threshold=12 * MIB, part_size=5 * MIB
    ) as store:
        stored = await store.put_stream("big.bin", chunked(os.urandom(13 * MIB), 4 * MIB))

    head = s3_client.head_object(Bucket=s3_bucket, Key="big.bin")
    assert stored.etag is not None
    assert stored.etag.endswith("-3")
    assert head["ContentLength"] == 13 * MIB


async def test_content_type_is_stored_and_reported_by_head(s3_store: S3ObjectStore) -> None:
    await s3_store.put_stream("chart.tgz", chunked(b"chart"), content_type="application/gzip")

    info = await s3_store.head("chart.tgz")

    assert info is not None
    assert info.content_type == "application/gzip"
    assert info.etag is not None


async def test_list_follows_continuation_tokens_across_pages(
    s3_endpoint: str, s3_bucket: str, s3_client: Any
) -> None:
    for number in range(25):
        s3_client.put_object(Bucket=s3_bucket, Key=f"many/{number:02d}", Body=b"x")

    async with S3ObjectStore(s3_bucket, endpoint_url=s3_endpoint, list_page_size=10) as store:
        listed = await store.list("many/")

    assert [info.key for info in listed] == [f"many/{number:02d}" for number in range(25)]


async def test_ensure_bucket_creates_a_missing_bucket_once(
    s3_endpoint: str, s3_client: Any
) -> None:
    bucket = f"created-{uuid.uuid4().hex[:12]}"
    async with S3ObjectStore(bucket, endpoint_url=s3_endpoint, region="eu-west-1") as store:
        await store.ensure_bucket()
        await store.ensure_bucket()
        await store.put_stream("probe", chunked(b"ok"))

    location = s3_client.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    assert location == "eu-west-1"


async def test_explicit_credentials_are_used(s3_endpoint: str, s3_bucket: str) -> None:
    credentials = S3Credentials(access_key_id="explicit", secret_access_key="explicit-secret")
    async with S3ObjectStore(s3_bucket, endpoint_url=s3_endpoint, credentials=credentials) as store:
        url = await store.presigned_get_url("probe", expires_in=30)

    assert "X-Amz-Credential=explicit%2F" in url
    assert "explicit-secret" not in repr(credentials)


async def test_operations_on_a_missing_bucket_raise_store_errors(s3_endpoint: str) -> None:
    async with S3ObjectStore("no-such-bucket-here", endpoint_url=s3_endpoint) as store:
        with pytest.raises(ObjectStoreError):
            await store.list()
        with pytest.raises(ObjectStoreError):
            await store.put_stream("key", chunked(b"x"))


async def test_a_store_that_is_not_open_says_so(s3_endpoint: str, s3_bucket: str) -> None:
    store = S3ObjectStore(s3_bucket, endpoint_url=s3_endpoint)

    with pytest.raises(ObjectStoreError, match="not open"):
        await store.head("key")


def test_parts_smaller_than_s3_allows_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3ObjectStore("bucket", part_size=MIB)


def test_presigned_expiry_beyond_seven_days_is_refused() -> None:
    store = S3ObjectStore("bucket")

    with pytest.raises(ValueError, match="expires_in"):
        asyncio.run(store.presigned_get_url("key", expires_in=8 * 24 * 3600))


@pytest.mark.parametrize(
    ("provider", "endpoint_url", "expected_endpoint"),
    [
        ("s3", None, None),
        ("minio", "http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("gcs", None, "https://storage.googleapis.com"),
    ],
)
def test_factory_builds_s3_stores_for_s3_compatible_providers(
    provider: str, endpoint_url: str | None, expected_endpoint: str | None
) -> None:
    store = build_object_store(provider, bucket="artifacts", endpoint_url=endpoint_url)

    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.endpoint_url) == ("artifacts", expected_endpoint)


def test_factory_builds_a_filesystem_store(tmp_path: Any) -> None:
    store = build_object_store("filesystem", root=tmp_path)

    assert isinstance(store, FilesystemObjectStore)
    assert store.root == tmp_path.resolve()


@pytest.mark.parametrize(
    ("provider", "settings"),
    [
        ("azure", {"bucket": "b"}),
        ("s3", {}),
        ("minio", {"bucket": "b"}),
        ("filesystem", {"bucket": "b"}),
    ],
)
def test_factory_refuses_unknown_providers_and_missing_settings(
    provider: str, settings: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"needs|unknown"):
        build_object_store(provider, **settings)
