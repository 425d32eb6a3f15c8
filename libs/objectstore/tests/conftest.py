"""Fixtures for the object store tests: each contract test runs against both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from objectstore import FilesystemObjectStore, ObjectStore, S3ObjectStore

MIB = 1024 * 1024
PART_SIZE = 5 * MIB
"""S3's smallest part; the stores under test switch to multipart above it."""


@pytest.fixture(params=["s3", "filesystem"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    """An open store: S3 on a fresh moto bucket, or a filesystem root in ``tmp_path``."""
    built: ObjectStore
    if request.param == "s3":
        built = S3ObjectStore(
            request.getfixturevalue("s3_bucket"),
            endpoint_url=request.getfixturevalue("s3_endpoint"),
            region="us-east-1",
            multipart_threshold=PART_SIZE,
            part_size=PART_SIZE,
        )
    else:
        built = FilesystemObjectStore(tmp_path / "objects")
    async with built:
        await built.ensure_bucket()
        yield built


@pytest.fixture
async def s3_store(s3_endpoint: str, s3_bucket: str) -> AsyncIterator[S3ObjectStore]:
    """An open S3 store on a fresh moto bucket with 5 MiB parts."""
    async with S3ObjectStore(
        s3_bucket,
        endpoint_url=s3_endpoint,
        region="us-east-1",
        multipart_threshold=PART_SIZE,
        part_size=PART_SIZE,
    ) as built:
        yield built


@pytest.fixture
def s3_client(s3_endpoint: str) -> Iterator[Any]:
    """A plain boto3 client on the moto endpoint, to look behind the store's back."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    yield client
    client.close()
